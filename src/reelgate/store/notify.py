"""PostgreSQL LISTEN/NOTIFY: wake idle workers the moment a task is queued anywhere.

Polling stays as the fallback (a missed notification only costs one poll interval), so this
thread may fail and reconnect without losing work.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import sqlalchemy as sa

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "reelgate_tasks"  # the payload is the queued task's model
RECONNECT_SECONDS = 2.0
WAIT_SECONDS = 1.0  # how often the loop looks at its stop flag


class NotifyListener:
    def __init__(self, database_url: str | sa.URL, wake: Callable[[], None]) -> None:
        url = sa.engine.make_url(database_url).set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self._wake = wake
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=WAIT_SECONDS, stop_after=1):
                            self._wake()
            except Exception as exc:
                log.warning("LISTEN connection lost (%s); polling until it is back", exc)
                self._stop.wait(RECONNECT_SECONDS)
