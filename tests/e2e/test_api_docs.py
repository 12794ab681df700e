"""API.md stays true: every route is documented, and every documented example works.

Each ``### METHOD /path`` section of API.md holds one ```http request and, after a
``Response `NNN` `` line, one ```json (or ```html, or ```text for metrics) response,
optionally preceded by an ```http block of response headers that the answer must carry.
Every example is sent to an
app on the memory store and the simulator, in a world built from the documented bodies
themselves (the documented endpoint, base model, Tars model and run inputs), with the
documented ids, slug, tokens and API key replaced by real ones. The answer must have the documented
status and the documented JSON *shape*: the same keys, recursively, and the same JSON
types; lists are compared on their first element and ``null`` matches anything.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData

from adapters.auth.jwt import mint_token
from entrypoints.config import Settings
from entrypoints.container import Container, build_container
from entrypoints.http.app import ROUTES, create_app
from entrypoints.http.envelope import STATUS_BY_CODE
from entrypoints.http.middleware import HTTP_ERROR_CODES
from entrypoints.http.openapi import build_document
from entrypoints.http.routing import Auth, Route
from tarsify.domain.errors import TarsifyError
from tarsify.domain.failures import Failure
from tarsify.domain.models import ExecutionStatus
from tarsify.ports.identity import Audience

from .conftest import make_settings
from .support import ADMIN_UID, JWT_SECRET, Api

API_MD = Path(__file__).resolve().parents[2] / "API.md"

HEADING_RE = re.compile(r"^### ([A-Z]+) (/\S*)\s*$")
ANY_HEADING_RE = re.compile(r"^#{1,3} ")
FENCE_RE = re.compile(r"^```(\w*)[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
RESPONSE_RE = re.compile(r"^Response `(\d{3})`[ \t]*$", re.M)
WHO_RE = re.compile(r"^- \*\*Who:\*\* (anyone|consumer|developer|admin)\b", re.M)
CODE_RE = re.compile(r"\bERR_\d{4}\b")
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
TOKEN_RE = re.compile(r"<[a-z]+-(?:token|key)>")

# Values whose shape belongs to a model's worker or to the OpenAPI generator, not to this
# API: only their JSON type is compared.
OPAQUE_KEYS = frozenset({"output", "paths", "components"})
WHO = {
    Auth.NONE: "anyone",
    Auth.CONSUMER: "consumer",
    Auth.DEVELOPER: "developer",
    Auth.ADMIN: "admin",
}
UNENVELOPED = {"GET /openapi.json", "GET /docs", "GET /metrics"}
METRIC_TYPE_RE = re.compile(r"^# TYPE \S+ \w+$", re.M)
# Routes outside the JSON route table whose success is not JSON (a file): the example
# shows an error answer instead.
RAW = {"GET /files/{key}": ("ERR_1006", "ERR_3001")}
# Routes that succeed only with the S3 store (these examples run on the memory store):
# the example shows the refusal, the prose the S3 answer.
S3_ONLY = {"POST /api/consumer/files/uploads": 400}

ENDPOINT_CREATE = "POST /api/admin/endpoints"
BASE_MODEL_CREATE = "POST /api/admin/base-models"
TARS_CREATE = "POST /api/developer/tars-models"
RUN = "POST /api/marketplace/models/{slug}/run"
CANCEL = "POST /api/consumer/executions/{id}/cancel"
KEY_CREATE = "POST /api/consumer/api-keys"
KEY_REVOKE = "DELETE /api/consumer/api-keys/{id}"
UPLOAD = "POST /api/consumer/files"
TEST_RUN = "POST /api/developer/tars-models/{id}/test-run"
DOC_CONSUMER_UID = "kP3nX9vT2aQ8mW4zR6yL1cB5dE7f"


def split_sections(text: str) -> dict[str, str]:
    """The text of every ``### METHOD /path`` section, by ``"METHOD /path"``."""
    sections: dict[str, str] = {}
    key: str | None = None
    lines: list[str] = []
    in_fence = False
    for line in [*text.splitlines(), "# end"]:
        if line.startswith("```"):
            in_fence = not in_fence
        # "# HELP" lines of the metrics example are not headings.
        if ANY_HEADING_RE.match(line) and not in_fence:
            if key is not None:
                assert key not in sections, f"{key} is documented twice"
                sections[key] = "\n".join(lines) + "\n"
            found = HEADING_RE.match(line)
            key = f"{found.group(1)} {found.group(2)}" if found else None
            lines = []
        elif key is not None:
            lines.append(line)
    return sections


SECTIONS = split_sections(API_MD.read_text(encoding="utf-8")) if API_MD.exists() else {}


@dataclass(frozen=True)
class Example:
    """One documented endpoint: its prose, example request and example response."""

    method: str
    path: str
    text: str
    target: str
    headers: dict[str, str]
    body: str | None
    status: int
    kind: str
    response: Any
    response_headers: dict[str, str]


@functools.cache
def parse(key: str) -> Example:
    """The example of section ``key``; fails when the section is not well formed."""
    method, path = key.split(" ", 1)
    text = SECTIONS[key]
    fences = [(m.start(), m.group(1), m.group(2)) for m in FENCE_RE.finditer(text)]
    responses = list(RESPONSE_RE.finditer(text))
    assert len(responses) == 1, f"{key}: needs exactly one 'Response `NNN`' line"
    requests = [f for f in fences if f[1] == "http" and f[0] < responses[0].start()]
    assert len(requests) == 1, f"{key}: needs exactly one ```http block"
    after = [f for f in fences if f[0] > responses[0].end()]
    response_headers: dict[str, str] = {}
    if after and after[0][1] == "http":
        response_headers = header_map(after.pop(0)[2].strip().splitlines())
    assert after and after[0][1] in ("json", "html", "text", "sse"), f"{key}: no response block"
    _, kind, raw_response = after[0]
    head, _, body = requests[0][2].partition("\n\n")
    request_line, *header_lines = head.strip().splitlines()
    sent_method, _, target = request_line.partition(" ")
    assert sent_method == method, f"{key}: the example sends {sent_method}"
    return Example(
        method=method,
        path=path,
        text=text,
        target=target.strip(),
        headers=header_map(header_lines),
        body=body.strip() or None,
        status=int(responses[0].group(1)),
        kind=kind,
        response=json.loads(raw_response) if kind == "json" else raw_response.strip(),
        # ```text is the metrics exposition: compared on its metric families (# TYPE).
        response_headers=response_headers,
    )


def header_map(lines: list[str]) -> dict[str, str]:
    """``Name: value`` lines as a dict."""
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    return headers


def header_problems(documented: dict[str, str], actual: Any) -> list[str]:
    """Documented response headers the answer lacks or gives another value (any UUID
    stands for any UUID: the example's execution is a new one)."""
    problems = []
    for name, value in documented.items():
        parts = re.split(f"({UUID_RE.pattern})", value)
        pattern = "".join(
            UUID_RE.pattern if UUID_RE.fullmatch(part) else re.escape(part) for part in parts
        )
        got = actual.get(name)
        if got is None or not re.fullmatch(pattern, got):
            problems.append(f"header {name}: documented {value!r}, got {got!r}")
    return problems


def sse_events(stream: str) -> list[tuple[str, Any]]:
    """``(event name, parsed data)`` of each event of a Server-Sent Events text."""
    events = []
    for block in stream.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


def doc_body(key: str) -> dict[str, Any]:
    """The JSON body of the documented request of ``key``."""
    body = parse(key).body
    assert body is not None, f"{key}: the example has no body"
    parsed: dict[str, Any] = json.loads(body)
    return parsed


def doc_data(key: str) -> dict[str, Any]:
    """``data`` of the documented response of ``key``."""
    data: dict[str, Any] = parse(key).response["data"]
    return data


def json_type(value: Any) -> str:
    """The JSON type name of a parsed JSON value."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {dict: "object", list: "array", str: "string"}.get(type(value), "null")


def shape_problems(documented: Any, actual: Any, where: str = "$") -> list[str]:
    """How ``actual`` differs in shape from ``documented`` (empty when it does not)."""
    if documented is None or actual is None:
        return []
    if json_type(documented) != json_type(actual):
        return [f"{where}: documented {json_type(documented)}, got {json_type(actual)}"]
    problems: list[str] = []
    if isinstance(documented, dict):
        missing = sorted(documented.keys() - actual.keys())
        extra = sorted(actual.keys() - documented.keys())
        if missing:
            problems.append(f"{where}: documented but missing {missing}")
        if extra:
            problems.append(f"{where}: present but undocumented {extra}")
        for name in documented.keys() & actual.keys():
            if name not in OPAQUE_KEYS:
                problems += shape_problems(documented[name], actual[name], f"{where}.{name}")
            elif json_type(documented[name]) != json_type(actual[name]) and None not in (
                documented[name],
                actual[name],
            ):
                problems.append(f"{where}.{name}: not a {json_type(documented[name])}")
    elif isinstance(documented, list) and documented and actual:
        problems += shape_problems(documented[0], actual[0], f"{where}[0]")
    return problems


def route_table() -> dict[str, Route]:
    """The app's own route table, by ``"METHOD /path"``."""
    return {f"{r.method} {r.path}": r for r in ROUTES}


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document."""
    return build_document(ROUTES)


def path_pattern(template: str) -> re.Pattern[str]:
    """A regex matching the concrete paths of a route template (a file ``{key}`` spans
    several segments)."""
    parts = re.split(r"(\{\w+\})", template)
    pieces = {"{key}": "[^?]+"}
    return re.compile(
        "".join(pieces.get(p, "[^/?]+") if p.startswith("{") else re.escape(p) for p in parts)
        + r"(\?.*)?"
    )


def table_rows(heading: str) -> dict[str, str]:
    """First column -> second column of the table under ``## heading`` in API.md."""
    text = API_MD.read_text(encoding="utf-8")
    part = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in part.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) >= 2:
            rows[cells[0]] = cells[1]
    return rows


def test_api_md_documents_exactly_the_app_routes() -> None:
    app = create_app(build_container(make_settings()))
    # The web pages (routes named "web.*") are HTML for people, described in README.md.
    served = {
        f"{r.method} {r.resource.canonical}"
        for r in app.router.routes()
        if r.method != "HEAD"
        and r.resource is not None
        and not (r.resource.name or "").startswith("web.")
    }
    documented = set(SECTIONS)
    assert API_MD.exists(), "API.md is missing"
    assert served - documented == set(), "routes missing from API.md"
    assert documented - served == set(), "API.md documents routes the app does not serve"


def test_error_codes_are_all_documented() -> None:
    documented = table_rows("Errors")
    implemented: dict[str, int] = {}
    pending: list[type[TarsifyError]] = [TarsifyError]
    while pending:
        cls = pending.pop()
        implemented[cls.code] = STATUS_BY_CODE[cls.code]
        pending += cls.__subclasses__()
    implemented |= {code: status for status, (code, _) in HTTP_ERROR_CODES.items()}
    for code, status in implemented.items():
        assert documented.get(code) == str(status), (code, status)
    mentioned = set(CODE_RE.findall(API_MD.read_text(encoding="utf-8")))
    assert mentioned <= documented.keys(), mentioned - documented.keys()


def test_execution_statuses_and_error_codes_are_documented() -> None:
    statuses = table_rows("Executions")
    for status in ExecutionStatus:
        assert status.value in statuses, status
    codes = sorted({failure.code for failure in Failure})
    assert "JOB_FAILED" in codes  # the scan found the constants
    for code in codes:
        assert code in statuses, code


@pytest.mark.parametrize("key", sorted(SECTIONS))
def test_section_matches_the_route_table(key: str) -> None:
    example = parse(key)
    assert path_pattern(example.path).fullmatch(example.target), (key, example.target)
    who = WHO_RE.search(example.text)
    assert who is not None, f"{key}: no '- **Who:**' line"
    codes = set(CODE_RE.findall(example.text))
    route = route_table().get(key)
    if route is None and key in RAW:
        assert who.group(1) == "anyone", key
        assert set(RAW[key]) <= codes, key
        return
    if route is None:
        assert key in UNENVELOPED, key
        assert (who.group(1), example.status) == ("anyone", 200)
        return
    assert who.group(1) == WHO[route.auth], key
    assert example.status in (route.status, *route.also) or S3_ONLY.get(key) == example.status, key
    operation = openapi_document()["paths"][route.path][route.method.lower()]
    undocumented = set(operation["x-error-codes"]) - codes
    assert not undocumented, f"{key}: error codes not documented: {sorted(undocumented)}"


async def build_world(api: Api, container: Container) -> dict[str, str]:
    """A catalog, users and executions made from the documented bodies; role -> value."""
    endpoint_body = doc_body(ENDPOINT_CREATE) | {"runpodEndpointId": "world-endpoint"}
    endpoint = await api.ok("POST", "/api/admin/endpoints", "admin", endpoint_body, 201)
    base_body = doc_body(BASE_MODEL_CREATE) | {"endpointId": endpoint["id"], "slug": "world-base"}
    base = await api.ok("POST", "/api/admin/base-models", "admin", base_body, 201)
    await api.ok("POST", "/api/developer/auth/register", "developer_x", {}, 201)
    await api.ok("POST", "/api/consumer/auth/register", "consumer_a", {}, 201)
    tars_body = {k: v for k, v in doc_body(TARS_CREATE).items() if k != "slug"}
    tars_body["baseModelId"] = base["id"]
    tars = "/api/developer/tars-models"
    published = await api.ok("POST", tars, "developer_x", tars_body, 201)
    await api.ok("PATCH", f"{tars}/{published['id']}", "developer_x", {"status": "PUBLISHED"})
    draft = await api.ok("POST", tars, "developer_x", tars_body, 201)
    run = f"/api/marketplace/models/{published['slug']}/run"
    started = await api.ok("POST", run, "consumer_a", doc_body(RUN), 202)
    done = await api.ok("GET", f"/api/consumer/executions/{started['id']}", "consumer_a")
    assert done["status"] == "COMPLETED", done
    container.simulator_engine().hang_next()
    to_cancel = {"inputs": doc_data(CANCEL)["input"]}
    running = await api.ok("POST", run, "consumer_a", to_cancel, 202)
    api_key = await api.ok(
        "POST", "/api/consumer/api-keys", "consumer_a", doc_body(KEY_CREATE), 201
    )
    form = FormData()
    form.add_field("file", b"hello, transcript", filename="hello.txt", content_type="text/plain")
    auth = {"Authorization": f"Bearer {api.tokens['consumer_a']}"}
    async with api.client.post("/api/consumer/files", data=form, headers=auth) as answer:
        assert answer.status == 201, await answer.text()
        upload = (await answer.json())["data"]
    test_run = f"{tars}/{draft['id']}/test-run?wait=5"
    tested = await api.ok("POST", test_run, "developer_x", doc_body(TEST_RUN), 200)
    grant = {"amount": 100, "reason": "docs"}
    await api.ok("POST", "/api/admin/consumers/cons-a/credits", "admin", grant, 201)
    return {
        "endpoint": endpoint["id"],
        "base_model": base["id"],
        "base_model_slug": base["slug"],
        "tars_model": draft["id"],
        "slug": published["slug"],
        "execution": done["id"],
        "running_execution": running["id"],
        "api_key": api_key["id"],
        "consumer_key": api_key["key"],
        "upload": upload["id"],
        "test_run": tested["id"],
    }


def documented_values() -> dict[str, str]:
    """The ids and slug the examples use -> the role of what they name."""
    return {
        doc_data(ENDPOINT_CREATE)["id"]: "endpoint",
        doc_data(BASE_MODEL_CREATE)["id"]: "base_model",
        doc_data(TARS_CREATE)["id"]: "tars_model",
        doc_data(TARS_CREATE)["slug"]: "slug",
        doc_data(RUN)["id"]: "execution",
        doc_data(CANCEL)["id"]: "running_execution",
        doc_data(KEY_REVOKE)["id"]: "api_key",
        doc_data(UPLOAD)["id"]: "upload",
        doc_data(TEST_RUN)["id"]: "test_run",
    }


def tokens_for(key: str) -> dict[str, str]:
    """Token placeholder -> real token; register examples get not yet registered users."""
    fresh = key.endswith("/auth/register")
    developer_uid, consumer_uid = ("new-dev", "new-con") if fresh else ("dev-x", "cons-a")
    return {
        "<admin-token>": mint_token(JWT_SECRET, Audience.DEVELOPERS, ADMIN_UID, "a@x.example"),
        "<developer-token>": mint_token(
            JWT_SECRET, Audience.DEVELOPERS, developer_uid, "d@x.example", "Dee"
        ),
        "<consumer-token>": mint_token(
            JWT_SECRET, Audience.CONSUMERS, consumer_uid, "c@x.example", "Cee"
        ),
    }


@pytest.fixture
def settings() -> Settings:
    """The e2e settings; webhooks to any host (the run example names example.com, which
    is neither resolved nor called: webhook delivery is off in these tests)."""
    return make_settings(webhook_allow_private=True)


@pytest.mark.parametrize("key", sorted(SECTIONS))
async def test_documented_example_answers_as_documented(
    key: str, api: Api, container: Container
) -> None:
    example = parse(key)
    world = await build_world(api, container)
    values = {doc: world[role] for doc, role in documented_values().items()}
    values |= tokens_for(key)
    values["<consumer-key>"] = world["consumer_key"]
    values[DOC_CONSUMER_UID] = "cons-a"  # the uid of <consumer-token>
    # A base model named by its slug (the documented one is the world's, under another slug).
    doc_slug = doc_body(BASE_MODEL_CREATE)["slug"]
    values[f'"baseModelId": "{doc_slug}"'] = f'"baseModelId": "{world["base_model_slug"]}"'
    callbacks = container.callback_urls()
    assert callbacks is not None, "the e2e settings enable provider callbacks"
    values["<webhook-token>"] = callbacks.token(uuid.UUID(world["execution"]))

    def real(text: str) -> str:
        for documented, actual in values.items():
            text = text.replace(documented, actual)
        unknown = set(UUID_RE.findall(text)) - set(world.values())
        assert not unknown, f"{key}: the example uses ids the test cannot map: {unknown}"
        assert not TOKEN_RE.search(text), f"{key}: unknown token placeholder in {text!r}"
        return text

    target = real(example.target)
    headers = {name: real(value) for name, value in example.headers.items()}
    body = None if example.body is None else real(example.body)
    if body is not None and headers.get("Content-Type", "").startswith("multipart/"):
        body = body.replace("\n", "\r\n")  # multipart lines end in CRLF
    reply = await api.call(example.method, target, data=body, headers=headers)

    assert reply.status == example.status, (key, reply.status, reply.text[:500])
    assert reply.headers.get("X-Request-Id"), key
    problems = header_problems(example.response_headers, reply.headers)
    assert not problems, f"{key}: the answer's headers differ from API.md:\n" + "\n".join(problems)
    if example.kind == "html":
        assert reply.headers["Content-Type"].startswith("text/html"), key
        assert reply.text.startswith(example.response.removesuffix("...")), key
        return
    if example.kind == "sse":
        assert reply.headers["Content-Type"].startswith("text/event-stream"), key
        documented, actual = sse_events(example.response), sse_events(reply.text)
        assert [n for n, _ in documented] == [n for n, _ in actual], key
        for (_, doc_data), (_, got) in zip(documented, actual, strict=True):
            problems = shape_problems(doc_data, got)
            assert not problems, f"{key}: an event differs from API.md:\n" + "\n".join(problems)
        return
    if example.kind == "text":
        assert reply.headers["Content-Type"].startswith("text/plain"), key
        documented = set(METRIC_TYPE_RE.findall(example.response))
        assert documented == set(METRIC_TYPE_RE.findall(reply.text)), key
        return
    assert reply.body is not None, (key, reply.text[:500])
    if key not in UNENVELOPED:
        assert reply.body["success"] is (reply.status < 400), key
    problems = shape_problems(example.response, reply.body)
    assert not problems, f"{key}: the answer differs from API.md:\n" + "\n".join(problems)


def test_shape_comparison() -> None:
    documented = {"a": 1, "b": [{"c": "x"}], "d": None, "output": {"k": 1}}
    assert shape_problems(documented, {"a": 2.5, "b": [], "d": {"z": 1}, "output": {}}) == []
    assert shape_problems(documented, {"a": "1", "b": [{"c": "y"}], "d": 1, "output": {}}) == [
        "$.a: documented number, got string"
    ]
    assert shape_problems({"a": {"b": 1}}, {"a": {"c": 1}}) == [
        "$.a: documented but missing ['b']",
        "$.a: present but undocumented ['c']",
    ]
    assert shape_problems([{"a": True}], [{"a": 1}]) == ["$[0].a: documented boolean, got number"]
    assert shape_problems({"output": {}}, {"output": []}) == ["$.output: not a object"]
