"""reelgate's own routes (`/admin/...`): tasks with every engine option, cancel, the webhook
delivery log, a task's event stream. Errors use the default `{"error": {"code", "message"}}`
shape."""

from reelgate.api.native.admin import router as admin_router
from reelgate.api.native.events import router as events_router
from reelgate.api.native.routes import router as tasks_router

PREFIX = "/admin/"

__all__ = ["PREFIX", "admin_router", "events_router", "tasks_router"]
