"""Made request ids: 32 hex digits, never the same twice, different in each process."""

from __future__ import annotations

import subprocess
import sys

from entrypoints.http.middleware import REQUEST_ID_RE, new_request_id


def test_each_request_gets_its_own_id() -> None:
    ids = [new_request_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    for request_id in ids[:3] + ids[-3:]:
        assert len(request_id) == 32 and int(request_id, 16) >= 0
        assert REQUEST_ID_RE.fullmatch(request_id)


def test_another_process_makes_other_ids() -> None:
    code = "from entrypoints.http.middleware import new_request_id as n; print(n())"
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert len(other) == 32 and other != new_request_id()
    assert other[:20] != new_request_id()[:20]  # the process's random prefix
