"""The HTTP status of every error code lives in the HTTP layer, in one table."""

from __future__ import annotations

import importlib
import pkgutil

import adapters
import entrypoints
import tarsify
from entrypoints.http.envelope import STATUS_BY_CODE, error_status
from tarsify.domain.errors import (
    GpuProviderError,
    InsufficientCredits,
    InvalidFileKey,
    NotFound,
    StorageError,
    TarsifyError,
)


def _every_error_class() -> list[type[TarsifyError]]:
    for package in (tarsify, adapters, entrypoints):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            importlib.import_module(module.name)
    found, pending = [], [TarsifyError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending += cls.__subclasses__()
    return found


def test_every_error_code_of_every_package_has_a_status() -> None:
    classes = _every_error_class()
    assert any(cls.__module__.startswith("adapters.") for cls in classes)  # the walk sees them
    assert {cls.code for cls in classes} - STATUS_BY_CODE.keys() == set()


def test_the_status_follows_the_code() -> None:
    assert error_status(InsufficientCredits()) == 402
    assert error_status(NotFound()) == error_status(InvalidFileKey()) == 404
    assert error_status(StorageError()) == 503
    assert error_status(GpuProviderError()) == 502
    assert error_status(TarsifyError()) == 500


def test_a_code_the_table_lacks_answers_500() -> None:
    unmapped = TarsifyError()
    unmapped.code = "ERR_9999"
    assert error_status(unmapped) == 500
