"""Pure ASGI middleware, one concept per module."""
