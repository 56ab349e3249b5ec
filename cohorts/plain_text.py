"""Checks for one-line plain text that people other than its writer read (titles): no control,
line-breaking, direction-changing or invisible characters, which would break the formats it
is written into (an email subject, a calendar's header lines), reorder what others read, or
hide text. Joiners stay allowed: ZWJ builds emoji (👩‍💻) and ZWNJ is part of how Persian and
Indic scripts are spelled; so does the soft hyphen."""

from __future__ import annotations

import unicodedata

__all__ = ["unseen_characters"]

_BREAKS = ("Cc", "Zl", "Zp")  # controls (CR, LF, ESC...), line and paragraph separators
_HIDDEN = frozenset(
    [
        0x061C, 0x180E, 0x200B, 0x200E, 0x200F, 0xFEFF,  # marks, zero-width space, BOM
        *range(0x202A, 0x202F),  # bidi embeddings and overrides
        *range(0x2060, 0x2065),  # word joiner and invisible operators
        *range(0x2066, 0x206A),  # bidi isolates
    ]
)  # fmt: skip


def unseen_characters(text: str) -> list[str]:
    """The refused characters ``text`` holds, as ``U+XXXX``, sorted; empty when it is clean."""
    return sorted(
        {f"U+{ord(c):04X}" for c in text if ord(c) in _HIDDEN or unicodedata.category(c) in _BREAKS}
    )
