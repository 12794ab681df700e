"""API keys on fakes: making, hashing, authenticating, revoking, and routing credentials."""

from __future__ import annotations

import re
import uuid

import pytest

from adapters.auth.api_keys import CompositeVerifier
from adapters.memory.clock import ManualClock
from adapters.memory.identity import StaticIdentityVerifier
from adapters.memory.uow import MemoryStore
from tarsify.domain.api_keys import KeyHasher, derive_pepper, generate_key
from tarsify.domain.errors import InvalidBody, InvalidToken, NotFound
from tarsify.domain.models import Consumer, Identity
from tarsify.domain.pagination import PageRequest
from tarsify.ports.identity import Audience
from tarsify.services.api_keys import ApiKeyService, ApiKeyVerifier

PEPPER = b"p" * 32
KEY_RE = re.compile(r"^tsk_[A-Za-z0-9_-]{43}$")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def service(store: MemoryStore, clock: ManualClock) -> ApiKeyService:
    return ApiKeyService(store.unit_of_work, clock, KeyHasher(PEPPER))


async def _consumer(store: MemoryStore, clock: ManualClock, uid: str = "alice") -> Consumer:
    now = clock.now()
    consumer = Consumer(uuid.uuid4(), uid, f"{uid}@x.io", uid.title(), now, now)
    async with store.unit_of_work() as uow:
        await uow.consumers.add(consumer)
        await uow.commit()
    return consumer


def test_keys_are_random_prefixed_and_hashed_under_the_pepper() -> None:
    keys = {generate_key() for _ in range(100)}
    assert len(keys) == 100 and all(KEY_RE.fullmatch(k) for k in keys)
    key = keys.pop()
    hashed = KeyHasher(PEPPER).hash(key)
    assert re.fullmatch(r"[0-9a-f]{64}", hashed) and key not in hashed
    assert KeyHasher(PEPPER).hash(key) == hashed
    assert KeyHasher(b"q" * 32).hash(key) != hashed
    with pytest.raises(ValueError):
        KeyHasher(b"short")


def test_a_derived_pepper_is_labelled_and_not_the_secret() -> None:
    secret = "s" * 40
    pepper = derive_pepper(secret)
    assert len(pepper) == 32 and secret.encode() not in pepper
    assert derive_pepper(secret) == pepper != derive_pepper("t" * 40)


async def test_create_stores_only_the_hash(
    service: ApiKeyService, store: MemoryStore, clock: ManualClock
) -> None:
    alice = await _consumer(store, clock)
    created = await service.create(alice.id, "  ci  ")
    stored = store.tables["api_keys"][created.api_key.id]
    assert KEY_RE.fullmatch(created.secret)
    assert stored.name == "ci" and stored.prefix == created.secret[:12]
    assert stored.key_hash == KeyHasher(PEPPER).hash(created.secret)
    assert created.secret not in repr(store.tables)
    with pytest.raises(InvalidBody):
        await service.create(alice.id, "   ")


async def test_a_key_authenticates_as_its_consumer_on_consumer_routes_only(
    service: ApiKeyService, store: MemoryStore, clock: ManualClock
) -> None:
    alice = await _consumer(store, clock)
    created = await service.create(alice.id, "ci")
    identity = await service.authenticate(created.secret, Audience.CONSUMERS)
    assert (identity.uid, identity.email, identity.name) == ("alice", "alice@x.io", "Alice")
    assert identity.audience == Audience.CONSUMERS.value
    with pytest.raises(InvalidToken):
        await service.authenticate(created.secret, Audience.DEVELOPERS)
    for wrong in (created.secret + "x", "tsk_" + "a" * 43, "tsk_" + "a" * 300, "eyJ.x.y"):
        with pytest.raises(InvalidToken):
            await service.authenticate(wrong, Audience.CONSUMERS)


async def test_last_used_is_written_at_most_once_a_minute(
    service: ApiKeyService, store: MemoryStore, clock: ManualClock
) -> None:
    alice = await _consumer(store, clock)
    created = await service.create(alice.id, "ci")
    key_id = created.api_key.id
    assert store.tables["api_keys"][key_id].last_used_at is None
    first_use = clock.advance(5)
    await service.authenticate(created.secret, Audience.CONSUMERS)
    commits = store.commits
    for _ in range(5):
        clock.advance(10)
        await service.authenticate(created.secret, Audience.CONSUMERS)
    assert store.commits == commits  # 50 s of use: no write
    assert store.tables["api_keys"][key_id].last_used_at == first_use
    later = clock.advance(11)
    await service.authenticate(created.secret, Audience.CONSUMERS)
    assert store.tables["api_keys"][key_id].last_used_at == later


async def test_revoke_is_immediate_and_only_for_the_owner(
    service: ApiKeyService, store: MemoryStore, clock: ManualClock
) -> None:
    alice, bob = await _consumer(store, clock), await _consumer(store, clock, "bob")
    kept = await service.create(alice.id, "kept")
    doomed = await service.create(alice.id, "doomed")
    await service.authenticate(doomed.secret, Audience.CONSUMERS)
    for who, key_id in ((bob.id, doomed.api_key.id), (alice.id, uuid.uuid4())):
        with pytest.raises(NotFound):
            await service.revoke(who, key_id)
    revoked = await service.revoke(alice.id, doomed.api_key.id)
    assert revoked.revoked_at == clock.now()
    with pytest.raises(InvalidToken):
        await service.authenticate(doomed.secret, Audience.CONSUMERS)
    with pytest.raises(NotFound):
        await service.revoke(alice.id, doomed.api_key.id)
    listed = await service.list(alice.id, PageRequest(limit=10))
    assert [k.name for k in listed.items] == ["kept"]
    assert (await service.authenticate(kept.secret, Audience.CONSUMERS)).uid == "alice"


async def test_the_composite_verifier_routes_keys_and_tokens(
    service: ApiKeyService, store: MemoryStore, clock: ManualClock
) -> None:
    alice = await _consumer(store, clock)
    created = await service.create(alice.id, "ci")
    tokens = StaticIdentityVerifier()
    jwt_like = tokens.issue("eyJ-dev", Identity("dev", "d@x.io", Audience.DEVELOPERS.value))
    # A token provider that would accept a key must never see one.
    tokens.issue(created.secret, Identity("impostor", "i@x.io", Audience.DEVELOPERS.value))
    verifier = CompositeVerifier(tokens, ApiKeyVerifier(service))
    assert (await verifier.verify(jwt_like, Audience.DEVELOPERS)).uid == "dev"
    assert (await verifier.verify(created.secret, Audience.CONSUMERS)).uid == "alice"
    with pytest.raises(InvalidToken):
        await verifier.verify(created.secret, Audience.DEVELOPERS)
