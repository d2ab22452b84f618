"""reelgate's own routes (`/admin/...`): tasks with every engine option, cancel, the webhook
delivery log, a task's event stream, the caller's own key, and for admin keys the operator's
routes (keys, workers, queue). Errors use the default `{"error": {"code", "message"}}` shape."""

from reelgate.api.native.admin import router as admin_router
from reelgate.api.native.events import router as events_router
from reelgate.api.native.operate import router as operate_router
from reelgate.api.native.routes import router as tasks_router

PREFIX = "/admin/"

__all__ = ["PREFIX", "admin_router", "events_router", "operate_router", "tasks_router"]
