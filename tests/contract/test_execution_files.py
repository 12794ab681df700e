"""Contract: the repository of executions' stored files, on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from tarsify.domain.errors import AlreadyExists, StorageError
from tarsify.domain.files import ExecutionFile, FileRecord
from tarsify.ports.storage import UnitOfWorkFactory
from tests.contract.factories import at, seed_catalog

SHA = hashlib.sha256(b"x").hexdigest()


def record(key: str, size: int = 5_000_000_000) -> FileRecord:
    return FileRecord(key, "image/png", size, SHA)


async def test_files_are_kept_per_execution_in_order(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    first, second = cat.execution(), cat.execution()
    async with uow_factory() as uow:
        await uow.executions.add(first)
        await uow.executions.add(second)
        await uow.files.add(
            ExecutionFile.of(first.id, record(f"executions/{first.id}/1.png"), at(1))
        )
        await uow.files.add(
            ExecutionFile.of(first.id, record(f"executions/{first.id}/0.png"), at(1))
        )
        await uow.files.add(
            ExecutionFile.of(second.id, record(f"executions/{second.id}/0.wav"), at(0))
        )
        await uow.commit()
    async with uow_factory() as uow:
        files = await uow.files.list_for_execution(first.id)
        assert [f.key.rsplit("/", 1)[1] for f in files] == ["0.png", "1.png"]
        assert files[0].size_bytes == 5_000_000_000  # past 32 bits
        assert (files[0].sha256, files[0].content_type, files[0].created_at) == (
            SHA,
            "image/png",
            at(1),
        )
        assert len(await uow.files.list_for_execution(second.id)) == 1


async def test_uncommitted_files_are_not_kept(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    execution = cat.execution()
    async with uow_factory() as uow:
        await uow.executions.add(execution)
        await uow.commit()
    async with uow_factory() as uow:
        await uow.files.add(ExecutionFile.of(execution.id, record("k/0.png"), at(0)))
    async with uow_factory() as uow:
        assert await uow.files.list_for_execution(execution.id) == []


async def test_a_key_is_recorded_once(uow_factory: UnitOfWorkFactory) -> None:
    cat = await seed_catalog(uow_factory)
    execution = cat.execution()
    async with uow_factory() as uow:
        await uow.executions.add(execution)
        await uow.files.add(ExecutionFile.of(execution.id, record("k/0.png"), at(0)))
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.files.add(ExecutionFile.of(execution.id, record("k/0.png"), at(1)))


async def test_a_file_needs_its_execution(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises((StorageError, AlreadyExists)):
            await uow.files.add(ExecutionFile.of(uuid.uuid4(), record("k/9.png"), at(0)))
            await uow.commit()
