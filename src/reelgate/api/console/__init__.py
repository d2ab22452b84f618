"""The web console at `/console`: static files from the package, speaking the native routes."""

from reelgate.api.console.routes import router

__all__ = ["router"]
