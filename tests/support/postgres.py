"""PostgreSQL for the tests: the configured server, or a throwaway one of our own.

`REELGATE_TEST_PG_URL` (default 127.0.0.1:5432, database `test`, trust auth) is used when it
answers. When it does not (a fresh machine with no database server running), the tests start a
throwaway cluster from the installed PostgreSQL binaries in a temporary directory, on a free
loopback port, and remove it when the test run ends. Under CI=true a run that can have neither
fails instead of skipping; elsewhere the PostgreSQL tests are skipped with the reason.

`fresh_schema()` gives each test a schema of its own on whichever server that is.
"""

from __future__ import annotations

import atexit
import functools
import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from reelgate.store import db

PG_URL = os.environ.get("REELGATE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
START_TIMEOUT_SECONDS = 60


class PostgresUnavailable(RuntimeError):
    """Neither the configured server nor a throwaway one can be had."""


def reachable(url: str) -> bool:
    engine = sa.create_engine(db.normalise_url(url), connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()
    return True


def _binaries() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, or Debian's versioned folder."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version)
    for folder in reversed(folders):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def _version(folder: str) -> int:
    part = Path(folder).parent.name
    return int(part) if part.isdigit() else 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Throwaway:
    """A PostgreSQL cluster in a temporary directory, running on a loopback port."""

    directory: Path
    port: int
    bin_dir: Path

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/test"

    @classmethod
    def start(cls) -> Throwaway:
        bin_dir = _binaries()
        if bin_dir is None:
            raise PostgresUnavailable(
                "no PostgreSQL server answers and no PostgreSQL binaries are installed "
                "(apt-get install postgresql)"
            )
        directory = Path(tempfile.mkdtemp(prefix="reelgate-pg-"))
        server = cls(directory, _free_port(), bin_dir)
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: the cluster is postgres's
            shutil.chown(directory, "postgres", "postgres")
        data = directory / "data"
        server._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = (
            f"-p {server.port} -k {directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        server._run(
            "pg_ctl", "-D", str(data), "-o", options, "-l", str(directory / "log"),
            "-w", "-t", str(START_TIMEOUT_SECONDS), "start",
        )  # fmt: skip
        admin = sa.create_engine(
            db.normalise_url(f"postgresql://postgres@127.0.0.1:{server.port}/postgres"),
            isolation_level="AUTOCOMMIT",
        )
        try:
            with admin.connect() as conn:
                conn.execute(sa.text("CREATE DATABASE test"))
        finally:
            admin.dispose()
        return server

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.directory / "data"), "-m", "immediate", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=START_TIMEOUT_SECONDS)


@functools.cache
def server_url() -> str:
    """The URL of a PostgreSQL server for this test run (see the module docstring)."""
    if reachable(PG_URL):
        return PG_URL
    throwaway = Throwaway.start()
    atexit.register(throwaway.stop)
    return throwaway.url


def require_server() -> str:
    """`server_url()`, or fail (under CI) or skip the calling test when none can be had."""
    try:
        return server_url()
    except (PostgresUnavailable, subprocess.SubprocessError, OSError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI and none can be had: {exc}")
        pytest.skip(f"PostgreSQL unavailable: {exc}")


@contextmanager
def fresh_schema() -> Iterator[tuple[str, str]]:
    """Yield (schema name, a database URL whose connections use that schema)."""
    url = require_server()
    schema = "t_" + secrets.token_hex(6)
    admin = sa.create_engine(db.normalise_url(url))
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        yield schema, f"{url}?options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
