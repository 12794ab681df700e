"""Credits routes: admin grants, a consumer's credits and ledger, a developer's earnings
and ledger."""

from __future__ import annotations

from aiohttp import web

from tarsify.domain.credits import AccountType

from .envelope import ok, ok_page
from .params import LIST_PARAMS, body, page_request
from .routing import Auth, Caller, Route, services
from .schemas_credits import (
    CreditGrant,
    CreditsView,
    EarningsView,
    GrantView,
    LedgerEntryView,
    credits_view,
    entry_view,
    grant_view,
)


async def grant_credits(request: web.Request, caller: Caller) -> web.Response:
    """Give credits to the consumer with this uid; 201 with the entry and the balance."""
    data = await body(request, CreditGrant)
    granted = await services(request).credits.grant(
        request.match_info["uid"], data.amount, data.reason
    )
    return ok(grant_view(granted), status=201)


async def consumer_credits(request: web.Request, caller: Caller) -> web.Response:
    """The caller's balance and held credits."""
    owner = caller.account_id
    credits = await services(request).credits.consumer_credits(owner)
    return ok(credits_view(credits))


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
