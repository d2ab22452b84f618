"""Real components for tests: a `reelgate serve` subprocess and a webhook receiver."""
