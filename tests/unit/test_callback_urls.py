"""Per-execution provider callback URLs: unguessable, bound to one execution and one secret."""

from __future__ import annotations

import uuid

from adapters.providers.runpod.provider import build_body
from entrypoints.callbacks import CallbackUrls
from tarsify.ports.provider import JobRequest

SECRET = "a-webhook-secret-of-enough-length-0123456789"


def test_url_carries_the_execution_and_a_verifiable_token() -> None:
    urls = CallbackUrls("https://api.example.com/", SECRET)
    execution_id = uuid.uuid4()
    url = urls.url_for(execution_id)
    prefix = f"https://api.example.com/webhooks/runpod/{execution_id}/"
    assert url.startswith(prefix)
    token = url.removeprefix(prefix)
    assert len(token) == 43
    assert urls.verify(execution_id, token)


def test_tokens_do_not_transfer_between_executions_or_secrets() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    urls = CallbackUrls("https://x", SECRET)
    other = CallbackUrls("https://x", SECRET + "-rotated")
    assert not urls.verify(b, urls.token(a))
    assert not other.verify(a, urls.token(a))
    assert not urls.verify(a, "")
    assert not urls.verify(a, "ü" * 43)  # non-ASCII input is refused, not an error


def test_runpod_body_carries_the_webhook_only_when_set() -> None:
    job = JobRequest("ep", {"prompt": "x"}, 60_000, 120_000)
    assert "webhook" not in build_body(job)
    with_hook = JobRequest("ep", {"prompt": "x"}, 60_000, 120_000, callback_url="https://h/1")
    assert build_body(with_hook) == {
        "input": {"prompt": "x"},
        "policy": {"executionTimeout": 60_000, "ttl": 120_000},
        "webhook": "https://h/1",
    }
