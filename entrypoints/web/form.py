"""The run form of a model page, built from the model's processed input schema.

Every property becomes one ``FormField`` that the template renders as an HTML control:
enums as selects, booleans as switches, numbers bounded on both sides as sliders (when
the range is small enough to be picked with one), other numbers as number fields with
their limits, long strings as text areas, objects and arrays as JSON text areas.
Read-only (locked) fields are shown, disabled, and never sent.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

# A slider is only offered when the range has at most this many steps: beyond it one
# pixel skips values and a number field is easier to use.
MAX_SLIDER_STEPS = 1000
LONG_TEXT_CHARS = 200
LONG_TEXT_NAMES = frozenset({"prompt", "text", "negative_prompt"})


@dataclass(frozen=True, slots=True)
class Option:
    """One choice of a select: its JSON-encoded value and its label."""

    value: str
    label: str
    selected: bool


@dataclass(frozen=True, slots=True)
class FormField:
    """One input of the run form, ready to render.

    ``kind`` is one of text, textarea, url, file, number, slider, select, switch, json
    (``file``: a URI that may also be a file chosen here, uploaded before the run;
    ``accept`` says which files).
    ``value`` is the initial value as the control's text (empty when unset); ``json_type``
    tells the script how to read the control back (string, integer, number, boolean, json).
    """

    name: str
    label: str
    kind: str
    json_type: str
    description: str | None = None
    required: bool = False
    read_only: bool = False
    value: str = ""
    checked: bool = False
    has_default: bool = False
    minimum: str | None = None
    maximum: str | None = None
    step: str | None = None
    max_length: int | None = None
    options: tuple[Option, ...] = ()
    limits: str | None = None
    accept: str | None = None


MEDIA_TYPE_RE = re.compile(r"^[a-z]+/(\*|[a-z0-9][a-z0-9.+-]*)$")
FILE_WORDS = (
    ("audio/*", re.compile(r"\b(audio|voice|speech|sound|recording)\b")),
    ("image/*", re.compile(r"\b(image|picture|photo)\b")),
)


def _num(value: Any) -> str:
    """A number as a control's text: integers without a trailing ``.0``."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _is_number(value: Any) -> bool:
    """A JSON number a control can hold: not a boolean, finite as a float (an integer
    beyond float range, such as ``10**400``, is not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # math.isfinite converts an int to a float first
        return False


def _number(value: Any) -> float | None:
    """``value`` when it is a finite JSON number (not a boolean), else None."""
    return value if _is_number(value) else None


def _json_type(spec: dict[str, Any]) -> str:
    kind = spec.get("type")
    if isinstance(kind, str) and kind in ("string", "integer", "number", "boolean"):
        return kind
    return "json"


def _enum_field(name: str, spec: dict[str, Any], base: dict[str, Any]) -> FormField:
    default = spec.get("default")
    # An empty choice only where leaving the field out is allowed and changes nothing.
    unset = not base["required"] and "default" not in spec
    options = [Option("", "(not set)", True)] if unset else []
    options += [
        Option(json.dumps(v), str(v), "default" in spec and v == default) for v in spec["enum"]
    ]
    return FormField(name=name, kind="select", json_type="json", options=tuple(options), **base)


def _slider_step(low: float, high: float, default: float, step: float | None) -> float | None:
    """The step of a slider over [low, high], or None when a slider does not fit: too
    many steps, or a default the slider could not show exactly."""
    if step is None:
        # A power of ten near a hundredth of the range: 0..1 moves by 0.01, 0..20 by 0.1.
        step = 10.0 ** math.floor(math.log10((high - low) / 100))
    if step <= 0 or (high - low) / step > MAX_SLIDER_STEPS:
        return None
    offset = (default - low) / step
    return step if abs(offset - round(offset)) < 1e-9 else None


def _number_field(name: str, spec: dict[str, Any], base: dict[str, Any]) -> FormField:
    json_type = _json_type(spec)
    low, high = _number(spec.get("minimum")), _number(spec.get("maximum"))
    step = _number(spec.get("multipleOf"))
    step = step if step is not None and step > 0 else None
    if step is None and json_type == "integer":
        step = 1
    default = _number(spec.get("default"))
    kind = "number"
    if low is not None and high is not None and high > low and default is not None:
        slider_step = _slider_step(low, high, default, step)
        if slider_step is not None:
            kind, step = "slider", slider_step
    return FormField(
        name=name,
        kind=kind,
        json_type=json_type,
        value=_num(default) if default is not None else "",
        minimum=_num(low) if low is not None else None,
        maximum=_num(high) if high is not None else None,
        step=_num(step) if step is not None else "any",
        limits=_limits(spec),
        **base,
    )


def _limits(spec: dict[str, Any]) -> str | None:
    """The bounds of a number, in words."""
    words = []
    for key, text in (
        ("minimum", "at least"),
        ("exclusiveMinimum", "more than"),
        ("maximum", "at most"),
        ("exclusiveMaximum", "less than"),
    ):
        if _is_number(spec.get(key)):
            words.append(f"{text} {_num(spec[key])}")
    if _is_number(spec.get("multipleOf")):
        words.append(f"a multiple of {_num(spec['multipleOf'])}")
    return ", ".join(words) or None


def _string_field(name: str, spec: dict[str, Any], base: dict[str, Any]) -> FormField:
    max_length = spec.get("maxLength")
    max_length = max_length if isinstance(max_length, int) and max_length > 0 else None
    kind, accept = "text", None
    if spec.get("format") == "uri":
        accept = file_accept(name, spec)
        kind = "url" if accept is None else "file"
    elif name in LONG_TEXT_NAMES or (max_length or LONG_TEXT_CHARS + 1) > LONG_TEXT_CHARS:
        kind = "textarea"
    default = spec.get("default")
    limits = f"up to {max_length} characters" if max_length else None
    return FormField(
        name=name,
        kind=kind,
        json_type="string",
        value=default if isinstance(default, str) else "",
        max_length=max_length,
        limits=limits,
        accept=accept,
        **base,
    )


def file_accept(name: str, spec: dict[str, Any]) -> str | None:
    """The files a ``format: uri`` field takes (an ``accept`` value): its
    ``contentMediaType``, else ``audio/*`` or ``image/*`` when its title or description
    speaks of audio or an image; None when it names none."""
    media = spec.get("contentMediaType")
    if isinstance(media, str) and MEDIA_TYPE_RE.match(media):
        return media
    words = " ".join(str(spec.get(k) or "") for k in ("title", "description")).lower()
    for kind, pattern in FILE_WORDS:
        if pattern.search(words):
            return kind
    return None


def build_field(name: str, spec: Any, required: bool) -> FormField:
    """The control of property ``name`` described by ``spec``."""
    spec = spec if isinstance(spec, dict) else {}
    title = spec.get("title")
    description = spec.get("description")
    base: dict[str, Any] = {
        "label": title if isinstance(title, str) and title.strip() else name,
        "description": description if isinstance(description, str) else None,
        "required": required,
        "read_only": spec.get("readOnly") is True,
        "has_default": "default" in spec,
    }
    if isinstance(spec.get("enum"), list) and spec["enum"]:
        return _enum_field(name, spec, base)
    json_type = _json_type(spec)
    if json_type == "boolean":
        return FormField(
            name=name,
            kind="switch",
            json_type="boolean",
            checked=spec.get("default") is True,
            **base,
        )
    if json_type in ("integer", "number"):
        return _number_field(name, spec, base)
    if json_type == "string":
        return _string_field(name, spec, base)
    value = json.dumps(spec["default"], indent=2) if "default" in spec else ""
    return FormField(name=name, kind="json", json_type="json", value=value, **base)


def build_form(schema: Any) -> list[FormField]:
    """The controls of every property of ``schema``: required ones first, then in order."""
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        return []
    required_raw = schema.get("required")
    required = (
        {r for r in required_raw if isinstance(r, str)} if isinstance(required_raw, list) else set()
    )
    fields = [
        build_field(name, spec, name in required) for name, spec in schema["properties"].items()
    ]
    # Stable sort: required first, locked last, the schema's order otherwise.
    return sorted(fields, key=lambda f: (not f.required, f.read_only))
