"""Open event streams per consumer: a bounded count, freed however a stream ends."""

from __future__ import annotations

import uuid

import pytest

from entrypoints.http.routes_events import StreamSlots
from tarsify.domain.errors import TooManyOpenStreams


def test_slots_are_per_consumer_and_freed_even_by_an_error() -> None:
    slots = StreamSlots(limit=1)
    alice, bob = uuid.uuid4(), uuid.uuid4()
    with slots.taken(alice):
        with pytest.raises(TooManyOpenStreams) as refused, slots.taken(alice):
            pass
        assert refused.value.retry_after == 5 and refused.value.details["limit"] == 1
        with slots.taken(bob):  # counted apart
            pass
    with pytest.raises(RuntimeError), slots.taken(alice):
        raise RuntimeError("the stream broke")
    with slots.taken(alice):  # the broken stream gave its slot back
        pass
