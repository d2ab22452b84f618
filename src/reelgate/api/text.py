"""Rules for free text that reaches engines, shared by every dialect."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

MAX_PROMPT_CHARS = 1000  # every dialect's prompt limit (CONTRACT.md 1.1, 2.1, 3)

# Bidirectional overrides and isolates can make a prompt read differently from what is stored.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def check_text(value: str, *, max_chars: int, allow_newlines: bool = True) -> str:
    """Trim and check `value`; ValueError (with the reason) when it breaks a rule."""
    text = value.strip()
    if not text:
        raise ValueError("must not be empty")
    if len(text) > max_chars:
        raise ValueError(f"must be at most {max_chars} characters (got {len(text)})")
    for ch in text:
        if ch in "\n\t" and allow_newlines:
            continue
        if ch in _BIDI_CONTROLS:
            raise ValueError(f"must not contain the bidirectional control U+{ord(ch):04X}")
        category = unicodedata.category(ch)
        if category in ("Cc", "Cs") or ch in "\u2028\u2029":
            raise ValueError(f"must not contain the control character U+{ord(ch):04X}")
    return text


def check_prompt(value: str) -> str:
    return check_text(value, max_chars=MAX_PROMPT_CHARS)


Prompt = Annotated[str, AfterValidator(check_prompt)]
"""A prompt as every dialect accepts it: trimmed, 1..1000 characters, no control characters."""
