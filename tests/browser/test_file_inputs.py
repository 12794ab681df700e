"""A consumer uploads a WAV on the speech-to-text model's page and reads its transcript:
the page uploads the chosen file, runs with its reference, and the simulated worker
reads the bytes by the signed link it was sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
from selenium.webdriver.common.by import By

from bench.browser import LiveApp
from tests.e2e.uploads_support import wav_bytes

from .test_journey import run_and_finish, sign_in, wait_for


def publish_speech_to_text(app: LiveApp, headers: dict[str, str]) -> str:
    """The demo developer's published model on the seeded faster-whisper base model."""
    bases = requests.get(app.url + "/api/developer/base-models", headers=headers, timeout=10)
    base = next(b for b in bases.json()["data"] if b["slug"] == "faster-whisper-stt")
    created = requests.post(
        app.url + "/api/developer/tars-models",
        json={"baseModelId": base["id"], "title": "Meeting Notes"},
        headers=headers,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    model = created.json()["data"]
    published = requests.patch(
        f"{app.url}/api/developer/tars-models/{model['id']}",
        json={"status": "PUBLISHED"},
        headers=headers,
        timeout=10,
    )
    assert published.status_code == 200, published.text
    return str(model["slug"])


def test_upload_a_wav_and_see_its_transcript(
    browser: Any, app: LiveApp, demo_key: str, developer_headers: dict[str, str], tmp_path: Path
) -> None:
    slug = publish_speech_to_text(app, developer_headers)
    clip = tmp_path / "meeting.wav"
    clip.write_bytes(wav_bytes(7.5))
    sign_in(browser, app, demo_key, f"/models/{slug}")
    picker = browser.find_element(By.ID, "file-audio")
    assert picker.get_attribute("accept") == "audio/*"
    picker.send_keys(str(clip))
    assert run_and_finish(browser)[-1] == "COMPLETED"
    result = browser.find_element(By.ID, "result")
    wait_for(browser, lambda d: "transcript of 7.5 seconds of audio" in result.text)
    field = browser.find_element(By.ID, "in-audio").get_attribute("value")
    assert field.startswith("tarsify://files/")
    files = requests.get(
        app.url + "/api/consumer/files",
        headers={"Authorization": f"Bearer {demo_key}"},
        timeout=10,
    ).json()["data"]
    assert [(f["name"], f["contentType"], f["reference"]) for f in files] == [
        ("meeting.wav", "audio/wav", field)
    ]
