"""The access log's line: what logging setup renders, made without the standard logger's
caller lookup and record factory (one line per request)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import structlog

from entrypoints.config import configure_logging
from entrypoints.http import middleware


def test_an_access_line_is_rendered_by_the_configured_chain_without_make_record(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level

    def refused(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the standard record factory was used")

    try:
        configure_logging("INFO", "json")
        access_log = middleware.access_logger()  # (the module's own caches its chain)
        with monkeypatch.context() as patched:
            patched.setattr(logging.Logger, "makeRecord", refused)
            patched.setattr(logging.Logger, "findCaller", refused)
            with structlog.contextvars.bound_contextvars(request_id="r-1"):
                access_log.info(
                    "http.request", method="GET", path="/x", status=200, duration_ms=1.5
                )
        root.setLevel(logging.WARNING)  # LOG_LEVEL=WARNING: no line
        access_log.info("http.request", method="GET", path="/y", status=200)
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        structlog.reset_defaults()
    assert len(lines) == 1
    line = lines[0]
    assert line["event"] == "http.request" and line["logger"] == "tarsify.access"
    assert line["level"] == "info" and line["request_id"] == "r-1"
    assert (line["method"], line["path"], line["status"], line["duration_ms"]) == (
        "GET", "/x", 200, 1.5,
    )  # fmt: skip
    assert "timestamp" in line


def test_access_records_are_made_now_at_their_level() -> None:
    records = middleware.AccessRecords(logging.getLogger("tarsify.access"))
    first = records.record(logging.INFO, "a", {"status": 200})
    second = records.record(logging.WARNING, "b", None)
    assert (first.levelno, first.levelname, first.getMessage()) == (logging.INFO, "INFO", "a")
    assert first.name == "tarsify.access" and first.status == 200  # type: ignore[attr-defined]
    assert (second.levelno, second.levelname, second.getMessage()) == (
        logging.WARNING, "WARNING", "b",
    )  # fmt: skip
    assert not hasattr(second, "status")
    assert second.created >= first.created and first.funcName == "request_log_middleware"
