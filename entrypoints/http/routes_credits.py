"""Credits routes: admin grants, a consumer's credits and ledger, a developer's earnings
and ledger."""

from __future__ import annotations

import uuid

from aiohttp import web
from pydantic import Field

from tarsify.domain.credits import MAX_GRANT, MAX_REASON_CHARS, AccountType, EntryType, LedgerEntry

from .envelope import ok, ok_page
from .params import LIST_PARAMS, body, page_request
from .routing import Auth, Caller, Route, services
from .schemas import RequestModel, Timestamp, View


class CreditGrant(RequestModel):
    """Give credits to a consumer (admin): a positive whole amount and why."""

    amount: int = Field(ge=1, le=MAX_GRANT)
    reason: str = Field(min_length=1, max_length=MAX_REASON_CHARS)


class LedgerEntryView(View):
    """One movement of credits: amounts are signed (see API.md, Credits)."""

    id: uuid.UUID
    type: EntryType
    amount: int
    execution_id: uuid.UUID | None
    created_at: Timestamp


class CreditsView(View):
    """A consumer's spendable balance and the credits held by unfinished runs."""

    balance: int
    held: int


class EarningsView(View):
    """A developer's earnings."""

    balance: int


class GrantView(CreditsView):
    """The consumer's credits after a grant, and the grant's ledger entry."""

    uid: str
    entry: LedgerEntryView


def entry_view(entry: LedgerEntry) -> LedgerEntryView:
    """The client's view of a ledger entry."""
    return LedgerEntryView(
        id=entry.id,
        type=entry.type,
        amount=entry.amount,
        execution_id=entry.execution_id,
        created_at=entry.created_at,
    )


async def grant_credits(request: web.Request, caller: Caller) -> web.Response:
    """Give credits to the consumer with this uid; 201 with the entry and the balance."""
    data = await body(request, CreditGrant)
    granted = await services(request).credits.grant(
        request.match_info["uid"], data.amount, data.reason
    )
    view = GrantView(
        uid=granted.uid,
        balance=granted.credits.balance,
        held=granted.credits.held,
        entry=entry_view(granted.entry),
    )
    return ok(view, status=201)


async def consumer_credits(request: web.Request, caller: Caller) -> web.Response:
    """The caller's balance and held credits."""
    owner = caller.account_id
    credits = await services(request).credits.consumer_credits(owner)
    return ok(CreditsView(balance=credits.balance, held=credits.held))


async def consumer_ledger(request: web.Request, caller: Caller) -> web.Response:
    """The caller's ledger, newest first."""
    owner = caller.account_id
    page_req = page_request(request)
    page = await services(request).credits.ledger(AccountType.CONSUMER, owner, page_req)
    return ok_page(page, [entry_view(e) for e in page.items], page_req.limit)


async def developer_earnings(request: web.Request, caller: Caller) -> web.Response:
    """The caller's earnings."""
    owner = caller.account_id
    return ok(EarningsView(balance=await services(request).credits.developer_earnings(owner)))


async def developer_ledger(request: web.Request, caller: Caller) -> web.Response:
    """The caller's earnings ledger, newest first."""
    owner = caller.account_id
    page_req = page_request(request)
    page = await services(request).credits.ledger(AccountType.DEVELOPER, owner, page_req)
    return ok_page(page, [entry_view(e) for e in page.items], page_req.limit)


ROUTES = [
    Route(
        "POST",
        "/api/admin/consumers/{uid}/credits",
        grant_credits,
        "Give credits to a consumer",
        Auth.ADMIN,
        GrantView,
        CreditGrant,
        status=201,
        tag="admin",
        errors=("ERR_3001",),
    ),
    Route(
        "GET",
        "/api/consumer/credits",
        consumer_credits,
        "Own credits",
        Auth.CONSUMER,
        CreditsView,
        tag="consumer",
    ),
    Route(
        "GET",
        "/api/consumer/credits/ledger",
        consumer_ledger,
        "Own credits ledger",
        Auth.CONSUMER,
        LedgerEntryView,
        many=True,
        params=LIST_PARAMS,
        tag="consumer",
    ),
    Route(
        "GET",
        "/api/developer/earnings",
        developer_earnings,
        "Own earnings",
        Auth.DEVELOPER,
        EarningsView,
        tag="developer",
    ),
    Route(
        "GET",
        "/api/developer/earnings/ledger",
        developer_ledger,
        "Own earnings ledger",
        Auth.DEVELOPER,
        LedgerEntryView,
        many=True,
        params=LIST_PARAMS,
        tag="developer",
    ),
]
