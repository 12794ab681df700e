"""Webhook rules: Standard Webhooks signatures, destinations, retries, which events."""

from __future__ import annotations

import ipaddress
import json
import uuid
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tarsify.domain.errors import InvalidBody
from tarsify.domain.execution import Execution
from tarsify.domain.models import ExecutionStatus
from tarsify.domain.webhook_rules import (
    check_url,
    embedded_ipv4,
    is_forbidden,
    new_secret,
    shown_secret,
    sign,
)
from tarsify.domain.webhooks import (
    DEFAULT_RETRY_DELAYS_S,
    WebhookEventType,
    events_of,
    new_webhook_id,
    retry_delay,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_signature_verifies_with_the_standard_webhooks_library() -> None:
    stored = new_secret()
    body = json.dumps({"type": "execution.completed", "data": {"id": "x"}}).encode()
    msg_id, timestamp = new_webhook_id(), int(datetime.now(UTC).timestamp())
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(stored, msg_id, timestamp, body),
    }
    verified = Webhook(shown_secret(stored)).verify(body, headers)
    assert verified["type"] == "execution.completed"
    # Another secret, another body or another id do not verify.
    with pytest.raises(WebhookVerificationError):
        Webhook(shown_secret(new_secret())).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(shown_secret(stored)).verify(body + b" ", headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(shown_secret(stored)).verify(body, headers | {"webhook-id": new_webhook_id()})


def test_signature_is_the_hmac_of_id_timestamp_and_body() -> None:
    # The example of the Standard Webhooks specification.
    stored = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign(stored, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "fe80::1",
        "fc00::1",
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "239.255.255.250",
        "ff02::1",
        "100.64.0.1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "240.0.0.1",
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "2002:c0a8:101:5::9",  # 6to4 of 192.168.1.1
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1 (obfuscated)
        "2001:0:4136:e378:8000:63bf:f7f6:f7f7",  # Teredo, client 8.9.8.8
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a00:1",
        "64:ff9b:1::a9fe:a9fe",
        "::7f00:1",  # IPv4-compatible
        "::a00:1",
        "::ffff:0:7f00:1",  # IPv4-translated
    ],
)
def test_internal_addresses_are_forbidden(address: str) -> None:
    assert is_forbidden(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert not is_forbidden(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "example.com", "https://", "http://a b/"]
)
def test_only_http_urls_with_a_host(url: str) -> None:
    with pytest.raises(InvalidBody) as raised:
        check_url(url)
    assert raised.value.details[0]["field"] == "webhook"


def test_ports_default_by_scheme() -> None:
    assert check_url("https://example.com/hook") == ("example.com", 443)
    assert check_url("http://example.com:8080/hook") == ("example.com", 8080)


def test_retries_last_more_than_a_day_then_stop() -> None:
    assert sum(DEFAULT_RETRY_DELAYS_S) >= 24 * 3600
    assert list(DEFAULT_RETRY_DELAYS_S) == sorted(DEFAULT_RETRY_DELAYS_S)  # growing
    assert retry_delay(1, DEFAULT_RETRY_DELAYS_S) == 5
    assert retry_delay(len(DEFAULT_RETRY_DELAYS_S), DEFAULT_RETRY_DELAYS_S) == 28800
    assert retry_delay(len(DEFAULT_RETRY_DELAYS_S) + 1, DEFAULT_RETRY_DELAYS_S) is None


def _execution(status: ExecutionStatus) -> Execution:
    ids = uuid.uuid4()
    return Execution(ids, ids, ids, ids, NOW, NOW, status=status)


@pytest.mark.parametrize(
    ("before", "after", "events"),
    [
        ("PENDING", "QUEUED", []),
        ("QUEUED", "RUNNING", [WebhookEventType.STARTED]),
        ("RUNNING", "RUNNING", []),
        ("RUNNING", "COMPLETED", [WebhookEventType.COMPLETED]),
        ("QUEUED", "COMPLETED", [WebhookEventType.COMPLETED]),
        ("PENDING", "FAILED", [WebhookEventType.COMPLETED]),
        ("RUNNING", "CANCELLED", [WebhookEventType.COMPLETED]),
        ("QUEUED", "TIMED_OUT", [WebhookEventType.COMPLETED]),
    ],
)
def test_which_changes_are_events(before: str, after: str, events: list[WebhookEventType]) -> None:
    was, now = _execution(ExecutionStatus(before)), _execution(ExecutionStatus(after))
    assert events_of(was, now) == events


@pytest.mark.parametrize(
    ("address", "wrapped"),
    [
        ("2002:7f00:1::", ["127.0.0.1"]),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", ["65.54.227.120", "127.0.0.1"]),
        ("64:ff9b::808:808", ["8.8.8.8"]),
        ("64:ff9b:1::a00:1", ["10.0.0.1"]),
        ("::7f00:1", ["127.0.0.1"]),
        ("::ffff:0:a00:1", ["10.0.0.1"]),
        ("2606:4700:4700::1111", []),
    ],
)
def test_the_ipv4_addresses_an_ipv6_address_wraps(address: str, wrapped: list[str]) -> None:
    found = embedded_ipv4(ipaddress.IPv6Address(address))
    assert [str(a) for a in found] == wrapped
