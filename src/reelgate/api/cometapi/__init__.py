"""CometAPI's Runway wrapper (CONTRACT.md 1): routes, request schemas, error renderer."""

from reelgate.api.cometapi.errors import PREFIX, CometApiRenderer
from reelgate.api.cometapi.routes import router

__all__ = ["PREFIX", "CometApiRenderer", "router"]
