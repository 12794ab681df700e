"""Ownership and role policies: who may see or change what.

Another user's resource is reported exactly like a missing one (404), so ids leak
nothing about other users.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from tarsify.domain.errors import ExecutionNotFound, NotAdmin, TarsModelNotFound
from tarsify.domain.execution import Execution
from tarsify.domain.models import TarsModel


def visible_execution(execution: Execution | None, consumer_id: uuid.UUID) -> Execution:
    """The execution if the consumer owns it; ``ExecutionNotFound`` otherwise."""
    if execution is None or execution.consumer_id != consumer_id:
        raise ExecutionNotFound()
    return execution


def owned_tars_model(model: TarsModel | None, developer_id: uuid.UUID) -> TarsModel:
    """The Tars model if the developer owns it; ``TarsModelNotFound`` otherwise."""
    if model is None or model.developer_id != developer_id:
        raise TarsModelNotFound()
    return model


class AdminPolicy:
    """Admins are developer-audience identities whose uid is in a configured list."""

    def __init__(self, admin_uids: Iterable[str]) -> None:
        self._uids = frozenset(u.strip() for u in admin_uids if u.strip())

    def is_admin(self, uid: str) -> bool:
        """True when ``uid`` is an admin."""
        return uid in self._uids

    def require_admin(self, uid: str) -> None:
        """Raise ``NotAdmin`` unless ``uid`` is an admin."""
        if not self.is_admin(uid):
            raise NotAdmin()
