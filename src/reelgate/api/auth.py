"""Bearer keys: `REELGATE_API_KEYS` and `REELGATE_ADMIN_API_KEYS` from the environment, and keys
made with `reelgate keys` or `POST /admin/keys`.

The presented key is hashed once; environment keys are compared against their hashes in
constant time, stored keys are found by hash. A task belongs to the key that created it: the
owner id is the stored key's id, or `env_<hash prefix>` for an environment key, so it stays the
same across restarts without storing the key. Every authenticated request takes a token from
its key's bucket; every failed attempt takes one from its client address's bucket.

An admin key (`REELGATE_ADMIN_API_KEYS`, or a stored key made with `--admin`) may also call the
Operate routes (`AdminRoute`): for any other key they answer 403 `admin_required`, decided before
the body is read, so a plain key learns nothing about those routes' rules.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import Response

from reelgate.api.ratelimit import TokenBuckets, retry_after_seconds
from reelgate.api.wire import StrictJsonRoute
from reelgate.errors import ApiError, ErrorKind
from reelgate.settings import Settings
from reelgate.store.base import Keys
from reelgate.store.rules import hash_key


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, with the limits that apply to them."""

    owner_id: str
    max_active_tasks: int
    rate_per_minute: float
    admin: bool = False


class Authenticator:
    def __init__(self, settings: Settings, keys: Keys, *, inline_reads: bool = False) -> None:
        self._settings = settings
        # A hash, a bucket and at most one indexed read: where the store answers from local
        # memory (SQLite) that costs less than the hop to the thread pool.
        self.inline_reads = inline_reads
        admins = settings.static_admin_keys()
        self._static = [
            (hash_key(k), "env_" + hash_key(k)[:16], k in admins)
            for k in settings.static_api_keys()
        ]
        self._keys = keys
        self._requests = TokenBuckets()
        self._failures = TokenBuckets()

    def authenticate(self, authorization: str | None, client: str) -> Principal:
        """The caller behind `Authorization: Bearer …`; ApiError when invalid or over a limit.

        Failed attempts are limited per client address: past the limit a wrong key is answered
        429 instead of 401, while a valid key from the same address still gets in (one guesser
        behind a shared address must not lock out everyone behind it)."""
        settings = self._settings
        try:
            principal = self._resolve(authorization)
        except ApiError as refused:
            # A bucket of at least one token, so a limit below one a minute still lets the
            # first failure through to its 401 rather than refusing every request.
            limit = settings.auth_failures_per_minute
            wait = self._failures.take(client, limit, max(limit, 1.0))
            if wait > 0:
                raise ApiError(
                    ErrorKind.RATE_LIMITED,
                    "too many failed authentication attempts from this address",
                    retry_after_seconds=retry_after_seconds(wait),
                ) from refused
            raise
        wait = self._requests.take(
            principal.owner_id, principal.rate_per_minute, settings.rate_burst
        )
        if wait > 0:
            raise ApiError(
                ErrorKind.RATE_LIMITED,
                f"this key is over its request rate ({principal.rate_per_minute:g} per minute)",
                retry_after_seconds=retry_after_seconds(wait),
            )
        return principal

    def _resolve(self, authorization: str | None) -> Principal:
        if not authorization:
            raise ApiError(ErrorKind.INVALID_TOKEN, "missing Authorization: Bearer <api key>")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(ErrorKind.INVALID_TOKEN, "Authorization must be 'Bearer <api key>'")
        digest = hash_key(token)
        settings = self._settings
        found: Principal | None = None
        for static_hash, static_owner, admin in self._static:
            if hmac.compare_digest(static_hash, digest):
                found = Principal(
                    static_owner,
                    settings.max_active_tasks_per_key,
                    settings.rate_per_minute,
                    admin=admin,
                )
        if found is not None:
            return found
        record = self._keys.find_active(digest)
        if record is None or not hmac.compare_digest(record.key_hash, digest):
            raise ApiError(ErrorKind.INVALID_TOKEN, "invalid token")
        return Principal(
            record.id,
            record.max_active_tasks or settings.max_active_tasks_per_key,
            record.rate_per_minute or settings.rate_per_minute,
            admin=record.admin,
        )

    def check(self, request: Request) -> Principal:
        """Authenticate a request once; later calls for the same request reuse the answer."""
        cached = getattr(request.state, "principal", None)
        if isinstance(cached, Principal):
            return cached
        client = request.client.host if request.client else "unknown"
        principal = self.authenticate(request.headers.get("authorization"), client)
        request.state.principal = principal
        return principal


def require_admin(principal: Principal) -> Principal:
    """The principal when its key is an admin key; else ApiError `admin_required` (403)."""
    if not principal.admin:
        raise ApiError(
            ErrorKind.ADMIN_REQUIRED,
            "this route needs an admin key (REELGATE_ADMIN_API_KEYS, "
            "or `reelgate keys create --admin`)",
        )
    return principal


BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="`Authorization: Bearer <api key>`: a key from REELGATE_API_KEYS or "
    "`reelgate keys create`",
)


async def _check(request: Request) -> Principal:
    authenticator: Authenticator = request.app.state.services.authenticator
    if authenticator.inline_reads:
        return authenticator.check(request)
    return await run_in_threadpool(authenticator.check, request)


async def _current(
    request: Request,
    _documented: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> Principal:
    # `_documented` only declares the scheme in the OpenAPI document; `check` reads the header.
    return await _check(request)


async def _admin(principal: Annotated[Principal, Depends(_current)]) -> Principal:
    return require_admin(principal)


CurrentPrincipal = Annotated[Principal, Depends(_current)]
AdminPrincipal = Annotated[Principal, Depends(_admin)]


class AdminRoute(StrictJsonRoute):
    """A route for admin keys only. The key is checked before the body is read: FastAPI parses a
    JSON body before it resolves dependencies, so with `AdminPrincipal` alone a plain key sending
    malformed JSON would get 400 instead of 403."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def admin_only(request: Request) -> Response:
            require_admin(await _check(request))
            return await handler(request)

        return admin_only
