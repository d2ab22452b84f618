"""Runway's official API (CONTRACT.md 2): routes, request schemas, error renderer."""

from reelgate.api.runway.errors import PREFIXES, RunwayRenderer
from reelgate.api.runway.routes import MOUNTS, router

__all__ = ["MOUNTS", "PREFIXES", "RunwayRenderer", "router"]
