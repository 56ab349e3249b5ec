"""Checks for one-line plain text that people other than its writer read (titles): no control,
line-breaking, direction-changing or invisible characters, which would break the formats it
is written into (an email subject, a calendar's header lines), reorder what others read, or
hide text. Joiners stay allowed: ZWJ builds emoji (👩‍💻) and ZWNJ is part of how Persian and
Indic scripts are spelled; so does the soft hyphen. ``for_terminal`` makes the same characters
visible (U+FFFD) in member-written text the command line prints, so an ESC sequence in a post
never reaches the instructor's terminal."""

from __future__ import annotations

import unicodedata

__all__ = ["for_terminal", "unseen_characters"]

PLACEHOLDER = "\ufffd"

_BREAKS = ("Cc", "Zl", "Zp")  # controls (CR, LF, ESC...), line and paragraph separators
_HIDDEN = frozenset(
    [
        0x061C, 0x180E, 0x200B, 0x200E, 0x200F, 0xFEFF,  # marks, zero-width space, BOM
        *range(0x202A, 0x202F),  # bidi embeddings and overrides
        *range(0x2060, 0x2065),  # word joiner and invisible operators
        *range(0x2066, 0x206A),  # bidi isolates
    ]
)  # fmt: skip


def _unseen(c: str) -> bool:
    return ord(c) in _HIDDEN or unicodedata.category(c) in _BREAKS


def unseen_characters(text: str) -> list[str]:
    """The refused characters ``text`` holds, as ``U+XXXX``, sorted; empty when it is clean."""
    return sorted({f"U+{ord(c):04X}" for c in text if _unseen(c)})


def for_terminal(text: object) -> str:
    """``text`` as one safe line for a terminal: every control (ESC, CR, LF, TAB...), line or
    paragraph separator, direction-changing or invisible character becomes U+FFFD."""
    return "".join(PLACEHOLDER if _unseen(c) else c for c in str(text))
