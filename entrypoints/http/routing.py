"""The route table type shared by the route modules, the app and the OpenAPI document."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web
from pydantic import BaseModel

from tarsify.domain.errors import AuthenticationRequired, UserNotRegistered
from tarsify.domain.models import Identity

if TYPE_CHECKING:
    from ipaddress import IPv4Network, IPv6Network

    from entrypoints.callbacks import CallbackUrls
    from entrypoints.config import Settings
    from tarsify.domain.policies import AdminPolicy
    from tarsify.ports.files import BlobStore
    from tarsify.ports.identity import IdentityVerifier
    from tarsify.ports.limits import RateLimiter
    from tarsify.ports.storage import HealthCheck
    from tarsify.services.accounts import AccountService
    from tarsify.services.api_keys import ApiKeyService
    from tarsify.services.catalog import CatalogService
    from tarsify.services.credits import CreditsService
    from tarsify.services.engine.executions import ExecutionService
    from tarsify.services.events import ExecutionWatcher
    from tarsify.services.files import OutputFiles
    from tarsify.services.marketplace import MarketplaceService
    from tarsify.services.studio import StudioService
    from tarsify.services.studio_runs import StudioRuns
    from tarsify.services.uploads import UploadService
    from tarsify.services.webhooks import ConsumerWebhooks

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who called a route, as the app resolved it from the route's declared ``auth``.

    Consumer and developer routes get the verified ``identity`` and, unless the route is
    for not yet registered users, the ``account_id`` of its consumer or developer row;
    admin routes the admin's identity; open routes nobody.
    """

    verified: Identity | None = None
    account: uuid.UUID | None = None

    @property
    def identity(self) -> Identity:
        """The verified identity (routes with an ``auth``)."""
        if self.verified is None:
            raise AuthenticationRequired()
        return self.verified

    @property
    def account_id(self) -> uuid.UUID:
        """The registered consumer's or developer's row id (routes with ``registered``)."""
        if self.account is None:
            raise UserNotRegistered()
        return self.account


ANONYMOUS = Caller()
RouteHandler = Callable[[web.Request, Caller], Awaitable[web.StreamResponse]]


class Auth(StrEnum):
    """Who may call a route."""

    NONE = "none"
    CONSUMER = "consumer"
    DEVELOPER = "developer"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Param:
    """A documented query parameter, request header or response header."""

    name: str
    schema: dict[str, Any]
    description: str
    where: str = "query"
    required: bool = False


@dataclass(frozen=True, slots=True)
class Route:
    """One operation: how aiohttp dispatches it and how OpenAPI documents it.

    ``response`` is the model of ``data``; ``many`` makes it a paginated list. ``errors``
    lists the route's own error codes (authentication and validation codes are implied);
    ``registered=False`` marks the routes a not yet registered user may call.
    ``also`` lists other success statuses (run answers 200 after a finished wait);
    ``response_headers`` documents the headers of its success answers.
    ``operation_id`` names the operation in OpenAPI (default: the handler's name in
    camelCase); ``paged=False`` makes a ``many`` route a plain list (no ``meta``);
    ``media_type`` is that of its success answer (``text/event-stream`` for a stream
    whose events carry ``response``); ``request_media_type`` that of its body
    (``multipart/form-data`` for an upload).
    The app enforces
    ``auth`` (and ``registered``) before calling ``handler`` with the resolved ``Caller``.
    """

    method: str
    path: str
    handler: RouteHandler
    summary: str
    auth: Auth
    response: type[BaseModel]
    request: type[BaseModel] | None = None
    status: int = 200
    many: bool = False
    params: tuple[Param, ...] = ()
    also: tuple[int, ...] = ()
    tag: str = ""
    errors: tuple[str, ...] = ()
    registered: bool = True
    response_headers: tuple[Param, ...] = ()
    operation_id: str = ""
    paged: bool = True
    media_type: str = "application/json"
    request_media_type: str = "application/json"

    @property
    def operation(self) -> str:
        """The OpenAPI operationId: given, or the handler's name in camelCase."""
        if self.operation_id:
            return self.operation_id
        head, *rest = self.handler.__name__.split("_")
        return head + "".join(part.capitalize() for part in rest)


class FileLinks(Protocol):
    """What ``GET /files/{key}`` asks of the signer of the store's links (the container
    gives the adapter's ``FileUrlSigner``)."""

    def verify(self, key: str, expires: str, sig: str) -> bool:
        """True when ``sig`` signs ``key`` until ``expires`` and that time has not passed."""
        ...


@dataclass(frozen=True, slots=True)
class Services:
    """What handlers call: the use cases, the identity verifier and the policies."""

    settings: Settings
    accounts: AccountService
    catalog: CatalogService
    studio: StudioService
    marketplace: MarketplaceService
    executions: ExecutionService
    api_keys: ApiKeyService
    verifier: IdentityVerifier
    admins: AdminPolicy
    health: HealthCheck
    credits: CreditsService
    callbacks: CallbackUrls | None = None
    blobs: BlobStore | None = None
    file_urls: FileLinks | None = None
    files: OutputFiles | None = None
    uploads: UploadService | None = None
    consumer_webhooks: ConsumerWebhooks | None = None
    watcher: ExecutionWatcher | None = None
    run_limit: RateLimiter | None = None
    anon_limit: RateLimiter | None = None
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()
    studio_runs: StudioRuns | None = None


SERVICES = web.AppKey("services", Services)


def services(request: web.Request) -> Services:
    """The services of the app serving ``request``."""
    return request.app[SERVICES]
