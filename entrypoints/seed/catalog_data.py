"""What ``tarsify seed`` registers: endpoints and base models with complete input schemas.

Real endpoint ids come from the environment; a missing one gets a placeholder id that
starts with ``placeholder-`` so nobody mistakes it for a real endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PLACEHOLDER_PREFIX = "placeholder-"


@dataclass(frozen=True)
class SeedEndpoint:
    """An endpoint to register; ``env`` names the variable holding its real id, which
    defaults to ``default_id`` when the provider's ids are public (fal's model ids)."""

    env: str
    name: str
    gpu_type: str | None
    docker_image: str | None
    provider: str = "runpod"
    default_id: str = ""


@dataclass(frozen=True)
class SeedBaseModel:
    """A base model to register on the endpoint read from ``endpoint_env``."""

    endpoint_env: str
    slug: str
    name: str
    description: str
    category: str
    output_type: str
    output_format: str
    estimated_seconds: int
    input_schema: dict[str, Any]
    streaming: bool = False


ENDPOINTS = [
    SeedEndpoint("RUNPOD_EP_TTS", "Chatterbox TTS", "NVIDIA RTX A4000", "runpod/chatterbox-turbo"),
    SeedEndpoint("RUNPOD_EP_SDXL", "Stable Diffusion XL", "NVIDIA RTX A5000", "runpod/worker-sdxl"),
    SeedEndpoint(
        "RUNPOD_EP_WHISPER", "Faster Whisper", "NVIDIA RTX A4000", "runpod/ai-api-faster-whisper"
    ),
    SeedEndpoint("RUNPOD_EP_LLM", "vLLM text generation", "NVIDIA L40S", "runpod/worker-v1-vllm"),
    SeedEndpoint(
        "FAL_MODEL_FLUX", "FLUX.1 schnell", None, None, "fal", default_id="fal-ai/flux/schnell"
    ),
]

FLUX_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "FLUX.1 schnell",
    "properties": {
        "prompt": {
            "type": "string",
            "title": "Prompt",
            "description": "What the image shows.",
            "minLength": 1,
            "maxLength": 2000,
        },
        "image_size": {
            "type": "string",
            "title": "Image size",
            "enum": [
                "square_hd",
                "square",
                "portrait_4_3",
                "portrait_16_9",
                "landscape_4_3",
                "landscape_16_9",
            ],
            "default": "landscape_4_3",
        },
        "num_inference_steps": {
            "type": "integer",
            "title": "Steps",
            "minimum": 1,
            "maximum": 12,
            "default": 4,
        },
        "seed": {"type": "integer", "title": "Seed", "minimum": 0},
        "num_images": {
            "type": "integer",
            "title": "Images",
            "minimum": 1,
            "maximum": 4,
            "default": 1,
        },
        "enable_safety_checker": {"type": "boolean", "title": "Safety checker", "default": True},
    },
    "required": ["prompt"],
    "additionalProperties": False,
}

# A text model whose worker streams its answer token by token (a generator handler).
LLM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Text generation",
    "properties": {
        "prompt": {
            "type": "string",
            "title": "Prompt",
            "description": "What to write about.",
            "minLength": 1,
            "maxLength": 8000,
        },
        "max_tokens": {
            "type": "integer",
            "title": "Maximum tokens",
            "default": 256,
            "minimum": 1,
            "maximum": 4096,
        },
        "temperature": {"type": "number", "default": 0.7, "minimum": 0, "maximum": 2},
    },
    "required": ["prompt"],
    "additionalProperties": False,
}

TTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Text to speech",
    "properties": {
        "prompt": {
            "type": "string",
            "title": "Text",
            "description": "The text to speak.",
            "minLength": 1,
            "maxLength": 5000,
        },
        "voice": {
            "type": "string",
            "title": "Voice",
            "description": "A built-in voice.",
            "default": "lucy",
            "minLength": 1,
            "maxLength": 64,
        },
        "voice_url": {
            "type": "string",
            "title": "Reference voice URL",
            "description": "URL of a short clip whose voice is cloned (overrides voice).",
            "format": "uri",
            "maxLength": 2048,
        },
        "format": {
            "type": "string",
            "title": "Audio format",
            "enum": ["wav", "flac", "ogg"],
            "default": "wav",
        },
    },
    "required": ["prompt"],
    "additionalProperties": False,
}

SDXL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Text to image (SDXL)",
    "properties": {
        "prompt": {"type": "string", "title": "Prompt", "minLength": 1, "maxLength": 2000},
        "negative_prompt": {"type": "string", "title": "Negative prompt", "maxLength": 2000},
        "height": {
            "type": "integer",
            "title": "Height",
            "default": 1024,
            "minimum": 256,
            "maximum": 2048,
            "multipleOf": 8,
        },
        "width": {
            "type": "integer",
            "title": "Width",
            "default": 1024,
            "minimum": 256,
            "maximum": 2048,
            "multipleOf": 8,
        },
        "seed": {"type": "integer", "title": "Seed", "minimum": 0, "maximum": 4294967295},
        "scheduler": {
            "type": "string",
            "title": "Scheduler",
            "enum": ["PNDM", "KLMS", "DDIM", "K_EULER", "DPMSolverMultistep"],
            "default": "DDIM",
        },
        "num_inference_steps": {
            "type": "integer",
            "title": "Steps",
            "default": 25,
            "minimum": 1,
            "maximum": 100,
        },
        "refiner_inference_steps": {
            "type": "integer",
            "title": "Refiner steps",
            "default": 50,
            "minimum": 0,
            "maximum": 100,
        },
        "guidance_scale": {
            "type": "number",
            "title": "Guidance scale",
            "default": 7.5,
            "minimum": 0,
            "maximum": 20,
        },
        "strength": {
            "type": "number",
            "title": "Strength (image to image)",
            "default": 0.3,
            "minimum": 0,
            "maximum": 1,
        },
        "image_url": {
            "type": "string",
            "title": "Init image URL",
            "format": "uri",
            "maxLength": 2048,
        },
        "num_images": {"type": "integer", "title": "Images", "default": 1, "enum": [1, 2]},
        "high_noise_frac": {
            "type": "number",
            "title": "High noise fraction",
            "minimum": 0,
            "maximum": 1,
        },
    },
    "required": ["prompt"],
    "additionalProperties": False,
}

WHISPER_MODELS = [
    "tiny",
    "base",
    "small",
    "medium",
    "large-v1",
    "large-v2",
    "large-v3",
    "distil-large-v2",
    "distil-large-v3",
    "turbo",
]
TEXT_FORMATS = ["plain_text", "formatted_text", "srt", "vtt"]

WHISPER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Speech to text (faster-whisper)",
    "properties": {
        "audio": {"type": "string", "title": "Audio URL", "format": "uri", "maxLength": 2048},
        "audio_base64": {"type": "string", "title": "Audio (base64)"},
        "model": {
            "type": "string",
            "title": "Whisper model",
            "enum": WHISPER_MODELS,
            "default": "base",
        },
        "transcription": {
            "type": "string",
            "title": "Transcription format",
            "enum": TEXT_FORMATS,
            "default": "plain_text",
        },
        "translate": {"type": "boolean", "title": "Translate to English", "default": False},
        "translation": {
            "type": "string",
            "title": "Translation format",
            "enum": TEXT_FORMATS,
            "default": "plain_text",
        },
        "language": {
            "type": "string",
            "title": "Language code",
            "description": "Leave empty to detect the language.",
            "maxLength": 16,
        },
        "temperature": {"type": "number", "default": 0, "minimum": 0, "maximum": 1},
        "best_of": {"type": "integer", "default": 5, "minimum": 1, "maximum": 10},
        "beam_size": {"type": "integer", "default": 5, "minimum": 1, "maximum": 10},
        "patience": {"type": "number", "default": 1.0, "minimum": 0},
        "length_penalty": {"type": "number", "default": 0},
        "suppress_tokens": {"type": "string", "default": "-1"},
        "initial_prompt": {"type": "string", "maxLength": 2000},
        "condition_on_previous_text": {"type": "boolean", "default": True},
        "temperature_increment_on_fallback": {"type": "number", "default": 0.2, "minimum": 0},
        "compression_ratio_threshold": {"type": "number", "default": 2.4},
        "logprob_threshold": {"type": "number", "default": -1.0},
        "no_speech_threshold": {"type": "number", "default": 0.6, "minimum": 0, "maximum": 1},
        "enable_vad": {"type": "boolean", "default": False},
        "word_timestamps": {"type": "boolean", "default": False},
    },
    "anyOf": [{"required": ["audio"]}, {"required": ["audio_base64"]}],
    "additionalProperties": False,
}

BASE_MODELS = [
    SeedBaseModel(
        "RUNPOD_EP_TTS",
        "chatterbox-tts",
        "Text to Speech",
        "Natural speech from text with Chatterbox, with built-in or cloned voices.",
        "AUDIO",
        "AUDIO",
        "wav",
        15,
        TTS_SCHEMA,
    ),
    SeedBaseModel(
        "RUNPOD_EP_SDXL",
        "sdxl-image",
        "Image Generator",
        "Images from a text prompt with Stable Diffusion XL and its refiner.",
        "IMAGE",
        "IMAGE",
        "png",
        30,
        SDXL_SCHEMA,
    ),
    SeedBaseModel(
        "RUNPOD_EP_WHISPER",
        "faster-whisper-stt",
        "Speech to Text",
        "Transcription and translation of speech with faster-whisper.",
        "AUDIO",
        "TEXT",
        "txt",
        20,
        WHISPER_SCHEMA,
    ),
    SeedBaseModel(
        "FAL_MODEL_FLUX",
        "flux-schnell",
        "Fast Image Generator",
        "Images from a text prompt in a few steps with FLUX.1 schnell, hosted on fal.",
        "IMAGE",
        "IMAGE",
        "png",
        5,
        FLUX_SCHEMA,
    ),
    SeedBaseModel(
        "RUNPOD_EP_LLM",
        "llm-text",
        "Text Writer",
        "Text from a prompt with an open LLM on vLLM, streamed token by token.",
        "TEXT",
        "TEXT",
        "txt",
        10,
        LLM_SCHEMA,
        streaming=True,
    ),
]
