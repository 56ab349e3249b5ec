"""Checks for one-line plain text that people other than its writer read (titles): no control,
invisible, direction-changing or line-breaking characters, which would hide text, reorder it,
or break the formats it is written into (an email subject, a calendar's header lines)."""

from __future__ import annotations

import unicodedata

__all__ = ["unseen_characters"]

_REFUSED = ("Cc", "Cf", "Zl", "Zp")  # controls, format (bidi, zero-width), line/paragraph


def unseen_characters(text: str) -> list[str]:
    """The refused characters ``text`` holds, as ``U+XXXX``, sorted; empty when it is clean."""
    return sorted({f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in _REFUSED})
