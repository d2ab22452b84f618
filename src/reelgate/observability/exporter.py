"""/metrics for a process without an HTTP API (`reelgate worker --metrics-port`)."""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client.exposition import start_http_server

from reelgate.observability.metrics import Metrics


class MetricsServer:
    """prometheus-client's threaded exporter on `host:port`, stopped by `shutdown`."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def serve_metrics(metrics: Metrics, host: str, port: int) -> MetricsServer:
    """Serve `metrics` at http://host:port/metrics (any path answers) from a daemon thread."""
    server, thread = start_http_server(port, addr=host, registry=metrics.registry)
    return MetricsServer(server, thread)
