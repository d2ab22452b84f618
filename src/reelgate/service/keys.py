"""API keys as operators manage them over HTTP (`/admin/keys`); the CLI's `reelgate keys` does
the same on the store directly. Who may call is decided before: only admin keys (api/auth.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from reelgate.errors import ApiError, ErrorKind
from reelgate.store.base import ApiKey, Keys


@dataclass(frozen=True, slots=True)
class KeyDefaults:
    """The limits of a key that has none of its own (the server's settings)."""

    max_active_tasks: int
    rate_per_minute: float


class KeyAdmin:
    def __init__(self, keys: Keys, defaults: KeyDefaults) -> None:
        self._keys = keys
        self.defaults = defaults

    def list(self) -> list[ApiKey]:
        """Every stored key, revoked ones included, oldest first."""
        return self._keys.list()

    def create(
        self,
        name: str,
        *,
        admin: bool = False,
        max_active_tasks: int | None = None,
        rate_per_minute: float | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key: its record and the key itself, which is returned this once only."""
        return self._keys.create(name, max_active_tasks, rate_per_minute, admin=admin)

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke the key; a key already revoked is returned unchanged (a retried request
        answers as the first did)."""
        self._keys.revoke(key_id)
        return self._get(key_id)

    def set_limits(
        self, key_id: str, max_active_tasks: int | None, rate_per_minute: float | None
    ) -> ApiKey:
        """Set both quotas of the key; None resets one to the server's setting. The next
        request made with the key is held to them."""
        if not self._keys.set_limits(key_id, max_active_tasks, rate_per_minute):
            raise _not_found(key_id)
        return self._get(key_id)

    def _get(self, key_id: str) -> ApiKey:
        record = self._keys.get(key_id)
        if record is None:
            raise _not_found(key_id)
        return record


def _not_found(key_id: str) -> ApiError:
    return ApiError(ErrorKind.KEY_NOT_FOUND, f"key {key_id[:64]!r} does not exist", param="key_id")
