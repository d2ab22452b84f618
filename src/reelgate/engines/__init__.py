"""Engines turn a `GenerationSpec` into frames; only this package knows about models."""
