"""Execution routes: run a published model, a consumer's own executions (list, read,
cancel), and a developer's test runs of their own models."""

from __future__ import annotations

from aiohttp import web

from tarsify.domain import run_request
from tarsify.domain.errors import InvalidBody
from tarsify.domain.models import ExecutionStatus
from tarsify.domain.webhooks import WebhookRequest
from tarsify.services.studio_runs import StudioRuns, TestRun
from tarsify.services.webhooks import ConsumerWebhooks

from .envelope import ok_fast, ok_page_fast
from .params import (
    LIST_PARAMS,
    MAX_WAIT_S,
    body,
    enum_query,
    idempotency_key,
    page_request,
    path_id,
    slug_query,
    wait_seconds,
)
from .prefer import preferred_wait
from .rate_limits import count_run
from .routing import Auth, Caller, Param, Route, services
from .schemas_executions import (
    ExecutionView,
    RunRequest,
    TestRunRequest,
    TestRunView,
    execution_json,
)


def _wait(request: web.Request) -> tuple[float, int | None]:
    """Seconds to wait, and the ``Prefer: wait`` applied (None when it was not used).

    An explicit ``?wait=`` is validated strictly and wins over the header's hint.
    """
    if "wait" in request.query:
        return wait_seconds(request), None
    preferred = preferred_wait(request.headers.getall("Prefer", ()), MAX_WAIT_S)
    return (0.0, None) if preferred is None else (float(preferred), preferred)


async def _webhook(webhooks: ConsumerWebhooks | None, data: RunRequest) -> WebhookRequest | None:
    """The run's webhook, checked; None when it asked for none."""
    if data.webhook is None:
        if data.webhook_events_filter is not None:
            raise InvalidBody(
                "webhookEventsFilter needs a webhook",
                details=[{"field": "webhookEventsFilter", "message": "needs a webhook"}],
            )
        return None
    if webhooks is None:  # an app built without webhook support: refuse, never ignore
        raise InvalidBody("Webhooks are not available on this server")
    return await webhooks.request(data.webhook, data.webhook_events_filter)


async def run_model(request: web.Request, caller: Caller) -> web.Response:
    """Start an execution: 202, or 200 when a wait saw it finish; always with Location."""
    owner = caller.account_id
    await count_run(request, owner)  # before anything is read or stored
    wait_s, applied = _wait(request)
    key = idempotency_key(request)
    data = await body(request, RunRequest)
    svc = services(request)
    webhook = await _webhook(svc.consumer_webhooks, data)
    result = await svc.executions.run(
        run_request.RunRequest(
            owner,
            request.match_info["slug"],
            data.inputs,
            idempotency_key=key,
            webhook=webhook,
            wait_s=wait_s,
        )
    )
    view = result.view
    status = 200 if wait_s > 0 and view.execution.is_terminal else 202
    response = ok_fast(await execution_json(request, view), status=status)
    response.headers["Location"] = f"/api/consumer/executions/{view.execution.id}"
    if applied is not None:
        response.headers["Preference-Applied"] = f"wait={applied}"
    return response


async def get_execution(request: web.Request, caller: Caller) -> web.Response:
    """One own execution, refreshed from the provider when due."""
    owner = caller.account_id
    svc = services(request)
    view = await svc.executions.get(owner, path_id(request))
    return ok_fast(await execution_json(request, view))


async def list_executions(request: web.Request, caller: Caller) -> web.Response:
    """Own executions, newest first, optionally by status and model slug."""
    owner = caller.account_id
    page_req = page_request(request)
    status = enum_query(request, "status", ExecutionStatus)
    model = slug_query(request, "model")
    svc = services(request)
    page = await svc.executions.list(owner, page_req, status=status, model_slug=model)
    items = [await execution_json(request, v) for v in page.items]
    return ok_page_fast(page, items, page_req.limit)


async def cancel_execution(request: web.Request, caller: Caller) -> web.Response:
    """Cancel an own execution; 409 ERR_5507 once it is terminal."""
    owner = caller.account_id
    svc = services(request)
    view = await svc.executions.cancel(owner, path_id(request))
    return ok_fast(await execution_json(request, view))


def _studio_runs(request: web.Request) -> StudioRuns:
    runs = services(request).studio_runs
    if runs is None:
        raise web.HTTPNotFound()
    return runs


async def _test_run_json(request: web.Request, run: TestRun) -> dict[str, object]:
    document = await execution_json(request, run.view)
    document["mergedInput"] = run.merged_input
    return document


def _test_run_url(run: TestRun) -> str:
    execution = run.view.execution
    return f"{_TARS}/{execution.tars_model_id}/test-runs/{execution.id}"


async def test_run_model(request: web.Request, caller: Caller) -> web.Response:
    """Test-run an own model (DRAFT or PUBLISHED), free: 202, or 200 when a wait saw it
    finish; always with Location."""
    owner = caller.account_id
    model_id = path_id(request)
    await count_run(request, owner)  # before anything is read or stored
    wait_s, applied = _wait(request)
    data = await body(request, TestRunRequest)
    run = await _studio_runs(request).run(owner, model_id, data.inputs, wait_s)
    status = 200 if wait_s > 0 and run.view.execution.is_terminal else 202
    response = ok_fast(await _test_run_json(request, run), status=status)
    response.headers["Location"] = _test_run_url(run)
    if applied is not None:
        response.headers["Preference-Applied"] = f"wait={applied}"
    return response


async def get_test_run(request: web.Request, caller: Caller) -> web.Response:
    """One test run of an own model, refreshed from the provider when due."""
    model_id, execution_id = path_id(request), path_id(request, "executionId")
    run = await _studio_runs(request).get(caller.account_id, model_id, execution_id)
    return ok_fast(await _test_run_json(request, run))


async def list_test_runs(request: web.Request, caller: Caller) -> web.Response:
    """An own model's test runs, newest first."""
    model_id = path_id(request)
    page_req = page_request(request)
    page = await _studio_runs(request).list(caller.account_id, model_id, page_req)
    items = [await execution_json(request, v) for v in page.items]
    return ok_page_fast(page, items, page_req.limit)


_TARS = "/api/developer/tars-models"
_WAIT = Param(
    "wait",
    {"type": "number", "minimum": 0, "maximum": MAX_WAIT_S},
    "Seconds to wait for a terminal status before answering",
)
_PREFER = Param(
    "Prefer",
    {"type": "string", "maxLength": 1024, "examples": ["wait=10", "respond-async, wait=10"]},
    "RFC 7240 preferences; `wait=N` (whole seconds, shortened to 60) is `?wait=N` as a hint: "
    "answered with Preference-Applied. Other or malformed preferences are ignored; "
    "`?wait=` wins when both are given",
    where="header",
)
_LOCATION = Param(
    "Location",
    {"type": "string", "pattern": "^/api/consumer/executions/[0-9a-f-]{36}$"},
    "Where the execution is read: GET /api/consumer/executions/{id}",
    where="header",
    required=True,
)
_PREFERENCE_APPLIED = Param(
    "Preference-Applied",
    {"type": "string", "pattern": "^wait=[0-9]+$"},
    "The wait preference that was used, when Prefer: wait was honoured",
    where="header",
)
_RATELIMIT_POLICY = Param(
    "RateLimit-Policy",
    {"type": "string", "examples": ['"run";q=120;w=60']},
    "The consumer's run quota (q runs per w seconds), when RUN_RATE_LIMIT_PER_MINUTE is set; "
    "on every answer to run, errors included",
    where="header",
)
_RATELIMIT = Param(
    "RateLimit",
    {"type": "string", "examples": ['"run";r=117;t=42']},
    "What is left of the quota (r runs) and the seconds until it is whole again (t)",
    where="header",
)
_IDEMPOTENCY = Param(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]([ -~]*[!-~])?$"},
    "Repeat-safe key: the same key and body return the first execution",
    where="header",
)

_STATUS = Param(
    "status", {"type": "string", "enum": [s.value for s in ExecutionStatus]}, "Only this status"
)
_MODEL = Param(
    "model",
    {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[a-z0-9]+(?:-[a-z0-9]+)*$"},
    "Only executions of the model with this slug",
)
_EXEC = "/api/consumer/executions"
_TEST_LOCATION = Param(
    "Location",
    {
        "type": "string",
        "pattern": "^/api/developer/tars-models/[0-9a-f-]{36}/test-runs/[0-9a-f-]{36}$",
    },
    "Where the test run is read: GET /api/developer/tars-models/{id}/test-runs/{executionId}",
    where="header",
    required=True,
)

ROUTES = [
    Route(
        "POST",
        "/api/marketplace/models/{slug}/run",
        run_model,
        "Run a published model",
        Auth.CONSUMER,
        ExecutionView,
        RunRequest,
        status=202,
        also=(200,),
        params=(_WAIT, _PREFER, _IDEMPOTENCY),
        response_headers=(_LOCATION, _PREFERENCE_APPLIED, _RATELIMIT_POLICY, _RATELIMIT),
        tag="marketplace",
        errors=(
            "ERR_5500",
            "ERR_5501",
            "ERR_5502",
            "ERR_5509",
            "ERR_2005",
            "ERR_3003",
            "ERR_6001",
            "ERR_4290",
            "ERR_4292",
            "ERR_5510",
        ),
        operation_id="runModel",
    ),
    Route(
        "GET",
        _EXEC,
        list_executions,
        "List own executions",
        Auth.CONSUMER,
        ExecutionView,
        many=True,
        params=(*LIST_PARAMS, _STATUS, _MODEL),
        tag="consumer",
    ),
    Route(
        "GET",
        _EXEC + "/{id}",
        get_execution,
        "Get an own execution",
        Auth.CONSUMER,
        ExecutionView,
        tag="consumer",
        errors=("ERR_5505",),
    ),
    Route(
        "POST",
        _EXEC + "/{id}/cancel",
        cancel_execution,
        "Cancel an own execution",
        Auth.CONSUMER,
        ExecutionView,
        tag="consumer",
        errors=("ERR_5505", "ERR_5507", "ERR_5510"),
    ),
    Route(
        "POST",
        _TARS + "/{id}/test-run",
        test_run_model,
        "Test-run an own Tars model (free)",
        Auth.DEVELOPER,
        TestRunView,
        TestRunRequest,
        status=202,
        also=(200,),
        params=(_WAIT, _PREFER),
        response_headers=(_TEST_LOCATION, _PREFERENCE_APPLIED, _RATELIMIT_POLICY, _RATELIMIT),
        tag="developer",
        errors=(
            "ERR_5500",
            "ERR_5501",
            "ERR_5502",
            "ERR_5509",
            "ERR_2005",
            "ERR_4290",
            "ERR_4292",
            "ERR_5510",
        ),
        operation_id="testRunModel",
    ),
    Route(
        "GET",
        _TARS + "/{id}/test-runs",
        list_test_runs,
        "List an own model's test runs",
        Auth.DEVELOPER,
        ExecutionView,
        many=True,
        params=LIST_PARAMS,
        tag="developer",
        errors=("ERR_5500",),
    ),
    Route(
        "GET",
        _TARS + "/{id}/test-runs/{executionId}",
        get_test_run,
        "Get a test run of an own model",
        Auth.DEVELOPER,
        TestRunView,
        tag="developer",
        errors=("ERR_5500", "ERR_5505"),
    ),
]
