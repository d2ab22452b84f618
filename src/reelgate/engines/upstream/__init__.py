"""The `upstream` engine: Runway's API, CometAPI or any OpenAI-`/v1/videos` server renders the
task; reelgate submits it once, waits, and re-hosts the result (CONTRACT.md 7, docs/models.md)."""
