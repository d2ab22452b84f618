"""API keys made with `reelgate keys create`: only a SHA-256 hash and a display prefix are kept.

A key is 32 random bytes, so a fast hash is enough: there is nothing to brute-force that a slow
hash would protect. Lookup is by hash (an indexed equality), and the caller still compares
digests in constant time.
"""

from __future__ import annotations

import time

import sqlalchemy as sa

from reelgate.store import db
from reelgate.store.base import ApiKey
from reelgate.store.rules import KEY_PREFIX, generate_key, hash_key, new_key_id
from reelgate.store.schema import api_keys

__all__ = ["KEY_PREFIX", "KeyRepo", "generate_key", "hash_key"]

_FIND_ACTIVE = sa.select(api_keys).where(
    (api_keys.c.key_hash == sa.bindparam("key_hash")) & api_keys.c.revoked_at.is_(None)
)


class KeyRepo:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def create(
        self,
        name: str,
        max_active_tasks: int | None = None,
        rate_per_minute: float | None = None,
        *,
        admin: bool = False,
    ) -> tuple[ApiKey, str]:
        """Store a new key; returns the record and the key itself, which is never stored."""
        key = generate_key()
        record = ApiKey(
            id=new_key_id(),
            name=name,
            prefix=key[:10],
            key_hash=hash_key(key),
            created_at=time.time(),
            revoked_at=None,
            max_active_tasks=max_active_tasks,
            rate_per_minute=rate_per_minute,
            admin=admin,
        )
        with db.write(self._engine) as conn:
            conn.execute(
                api_keys.insert().values(
                    id=record.id,
                    name=record.name,
                    prefix=record.prefix,
                    key_hash=record.key_hash,
                    created_at=record.created_at,
                    max_active_tasks=max_active_tasks,
                    rate_per_minute=rate_per_minute,
                    admin=admin,
                )
            )
        return record, key

    def set_limits(
        self, key_id: str, max_active_tasks: int | None, rate_per_minute: float | None
    ) -> bool:
        """Override (or, with None, reset to the server default) a key's quotas."""
        with db.write(self._engine) as conn:
            result = conn.execute(
                api_keys.update()
                .where(api_keys.c.id == key_id)
                .values(max_active_tasks=max_active_tasks, rate_per_minute=rate_per_minute)
            )
        return result.rowcount == 1

    def list(self) -> list[ApiKey]:
        with db.read(self._engine) as conn:
            rows = conn.execute(sa.select(api_keys).order_by(api_keys.c.created_at)).mappings()
            return [ApiKey(**row) for row in rows]

    def get(self, key_id: str) -> ApiKey | None:
        with db.read(self._engine) as conn:
            row = (
                conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).mappings().first()
            )
        return ApiKey(**row) if row else None

    def find_active(self, key_hash: str) -> ApiKey | None:
        with db.read(self._engine) as conn:
            row = conn.execute(_FIND_ACTIVE, {"key_hash": key_hash}).mappings().first()
        return ApiKey(**row) if row else None

    def revoke(self, key_id: str) -> bool:
        with db.write(self._engine) as conn:
            result = conn.execute(
                api_keys.update()
                .where((api_keys.c.id == key_id) & api_keys.c.revoked_at.is_(None))
                .values(revoked_at=time.time())
            )
        return result.rowcount == 1

    def count_active(self) -> int:
        query = sa.select(sa.func.count()).where(api_keys.c.revoked_at.is_(None))
        with db.read(self._engine) as conn:
            return int(conn.execute(query).scalar_one())
