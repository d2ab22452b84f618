"""Bearer keys: `REELGATE_API_KEYS` from the environment and keys made with `reelgate keys`.

The presented key is hashed once; environment keys are compared against their hashes in
constant time, stored keys are found by hash. A task belongs to the key that created it: the
owner id is the stored key's id, or `env_<hash prefix>` for an environment key, so it stays the
same across restarts without storing the key.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from reelgate.errors import ApiError, ErrorKind
from reelgate.store.keys import KeyRepo, hash_key


class Authenticator:
    def __init__(self, static_keys: list[str], keys: KeyRepo) -> None:
        self._static = [(hash_key(k), "env_" + hash_key(k)[:16]) for k in static_keys]
        self._keys = keys

    def owner_for(self, authorization: str | None) -> str:
        """The owner id of a valid `Authorization: Bearer …` header; ApiError otherwise."""
        if not authorization:
            raise ApiError(ErrorKind.INVALID_TOKEN, "missing Authorization: Bearer <api key>")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(ErrorKind.INVALID_TOKEN, "Authorization must be 'Bearer <api key>'")
        digest = hash_key(token)
        owner = None
        for static_hash, static_owner in self._static:
            if hmac.compare_digest(static_hash, digest):
                owner = static_owner
        if owner is not None:
            return owner
        record = self._keys.find_active(digest)
        if record is None or not hmac.compare_digest(record.key_hash, digest):
            raise ApiError(ErrorKind.INVALID_TOKEN, "invalid token")
        return record.id

    def check(self, request: Request) -> str:
        return self.owner_for(request.headers.get("authorization"))


def _current_owner(request: Request) -> str:
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator.check(request)


CurrentOwner = Annotated[str, Depends(_current_owner)]
