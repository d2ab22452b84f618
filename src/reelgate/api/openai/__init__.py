"""OpenAI's video API (CONTRACT.md 3): routes, request parsing, error renderer."""

from reelgate.api.openai.errors import PREFIX, OpenAIRenderer
from reelgate.api.openai.routes import router

__all__ = ["PREFIX", "OpenAIRenderer", "router"]
