"""reelgate: a self-hosted video generation server.

Clients speak the CometAPI Runway wrapper, Runway's official API or OpenAI's video API; every
request becomes a row in one task store that workers drain (see DESIGN.md in the project's
shared folder for the flow).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
