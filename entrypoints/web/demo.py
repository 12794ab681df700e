"""One-click sign-in as the demo consumer: only mounted by ``tarsify serve --demo``.

``POST /web/demo-sign-in`` creates a fresh API key for the demo consumer that the demo
seed registered, and answers it (``{"success": true, "data": {"key": "tsk_..."}}``) so
the sign-in page can keep it in session storage. Without ``--demo`` the route does not
exist: no request can make a key for anyone without that consumer's credentials.
"""

from __future__ import annotations

from aiohttp import web

from entrypoints.http.envelope import error_response, error_status
from entrypoints.http.routing import services
from entrypoints.seed.run import DEMO_CONSUMER
from tarsify.domain.errors import TarsifyError

DEMO_SIGN_IN_PATH = "/web/demo-sign-in"
DEMO_KEY_NAME = "web demo sign-in"


async def demo_sign_in(request: web.Request) -> web.Response:
    """A new API key of the demo consumer (201), shown this once."""
    svc = services(request)
    try:
        consumer = await svc.accounts.consumer_id(DEMO_CONSUMER)
    except TarsifyError as exc:
        # The seed did not run on this database (e.g. DEMO_SIGN_IN set by hand).
        return error_response(error_status(exc), exc.code, "The demo consumer is not registered")
    created = await svc.api_keys.create(consumer, DEMO_KEY_NAME)
    data = {"key": created.secret, "name": DEMO_CONSUMER.name, "email": DEMO_CONSUMER.email}
    return web.json_response({"success": True, "data": data}, status=201)


def install(app: web.Application) -> None:
    """Mount the demo sign-in route."""
    app.router.add_post(DEMO_SIGN_IN_PATH, demo_sign_in, name="web.demo_sign_in")
