"""The in-memory store stands without the database layer: importing it loads no SQLAlchemy, so
no SQL can creep into it unnoticed."""

from __future__ import annotations

import subprocess
import sys


def test_memory_store_imports_no_sqlalchemy() -> None:
    probe = (
        "import sys; from reelgate.store.memory import MemoryStore; MemoryStore(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
