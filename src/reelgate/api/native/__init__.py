"""reelgate's own routes (`/admin/...`): tasks with every engine option, cancel, the webhook
delivery log. Errors use the default `{"error": {"code", "message"}}` shape."""

from reelgate.api.native.admin import router as admin_router
from reelgate.api.native.routes import router as tasks_router

PREFIX = "/admin/"

__all__ = ["PREFIX", "admin_router", "tasks_router"]
