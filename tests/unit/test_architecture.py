"""The package edges of docs/architecture.md hold: the import-linter contracts in pyproject.toml
(layers, no dialect importing another, SQL only in the store, no cycles), plus the two rules an
import graph cannot see."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "reelgate"


def test_the_import_contracts_are_kept(capsys: pytest.CaptureFixture[str]) -> None:
    status = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    report = capsys.readouterr().out
    assert "Contracts: 4 kept, 0 broken." in report, report
    assert status == 0


def _sources(outside: str) -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if outside not in p.relative_to(PACKAGE).parts]


def test_the_blob_key_layout_is_spelled_in_one_module() -> None:
    layout = re.compile(r"""f?["'](tasks|inputs)/""")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in PACKAGE.rglob("*.py")
        if path != PACKAGE / "blobs" / "keys.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if layout.search(line)
    ]
    assert offenders == []


def test_database_dialects_are_told_apart_only_in_the_store() -> None:
    branch = re.compile(
        r"""dialect\.name|==\s*["'](sqlite|postgres)|startswith\(\s*\(?["'](sqlite|postgres)"""
    )
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _sources(outside="store")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if branch.search(line)
    ]
    assert offenders == []
