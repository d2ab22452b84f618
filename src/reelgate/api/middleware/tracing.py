"""One server span per HTTP request, named by the route template (`POST /v1/videos`).

Installed only while tracing is on (reelgate.observability.tracing). The span joins a trace the
client started when the request carries a W3C `traceparent`. Its name is set once the router has
matched (the template is in the scope after the app answered), so ids never become span names;
the path itself, without the query string (signed links carry their signature there), is an
attribute.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelgate.observability import tracing

TRACE_HEADERS = {b"traceparent": "traceparent", b"tracestate": "tracestate"}


class TracingMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        status = 500  # what the client gets when the app raises before answering

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with tracing.span(
            method,
            parent=_incoming(scope),
            kind=tracing.SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": scope["path"]},
        ) as span:
            try:
                await self.app(scope, receive, record_status)
            finally:
                ended: dict[str, tracing.AttributeValue] = {"http.response.status_code": status}
                route = getattr(scope.get("route"), "path", None)
                if route:
                    span.update_name(f"{method} {route}")
                    ended["http.route"] = route
                request_id = scope.get("state", {}).get("request_id")
                if request_id:
                    ended["reelgate.request_id"] = request_id
                span.set_attributes(ended)  # at once: each call on a live span takes its lock
                if status >= 500:
                    span.fail(f"answered {status}")


def _incoming(scope: Scope) -> dict[str, str] | None:
    """The client's trace context headers, if it sent any."""
    found = {
        TRACE_HEADERS[name]: value.decode("latin-1")
        for name, value in scope["headers"]
        if name in TRACE_HEADERS
    }
    return found or None
