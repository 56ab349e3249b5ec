"""How an author is recognised in text, and what replaces them. The author's email, name (as
typed, decomposed, without accents or HTML-escaped; "First Last", "First Middle Last" and
"Last, First") and handles (username and aliases) are matched as whole words; in outputs,
home and /tmp paths are matched too. Outputs are scrubbed: an email becomes
``EMAIL_PLACEHOLDER``, a name or handle ``PLACEHOLDER``, a home folder ``~``. Sources are only
scanned: their mentions are reported to the instructor, not edited. Used by ``packets``.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Collection, MutableMapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = [
    "EMAIL_PLACEHOLDER",
    "PLACEHOLDER",
    "Identity",
    "Matcher",
    "Mention",
    "matcher",
    "mentions",
    "scrub",
    "scrub_output",
    "scrub_value",
]

PLACEHOLDER = "author"
EMAIL_PLACEHOLDER = "author@example.invalid"
_SNIPPET = 30  # characters of context on each side of a mention
# Letters and digits only: "_", "-", "." separate words, so "ana_plot" holds "ana" but
# "banana" and "total" hold neither "ana" nor "al".
_B0, _B1 = r"(?<![^\W_])", r"(?![^\W_])"


@dataclass(frozen=True)
class Identity:
    """Whose identity to remove. ``aliases``: other handles, e.g. the nbgrader student id or
    the hub name. Usernames and aliases shorter than 2 characters are ignored."""

    username: str
    name: str
    email: str = ""
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mention:
    """A free-text mention of the author in a source, reported to the instructor, not edited.
    ``cell`` is the cell index, or -1 for a file that is not a notebook; ``kind`` is "name",
    "username" or "email"; ``file`` is the packet path."""

    file: str
    cell: int
    kind: str
    snippet: str


def _spellings(token: str) -> list[str]:
    """A name token as typed (NFC), decomposed, without accents and HTML-escaped."""
    nfc = unicodedata.normalize("NFC", token)
    plain = "".join(c for c in unicodedata.normalize("NFD", nfc) if not unicodedata.combining(c))
    forms = [nfc, unicodedata.normalize("NFD", nfc), plain, html.escape(nfc)]
    forms.append(forms[-1].replace("&#x27;", "&#39;"))
    return sorted({f for f in forms if f}, key=len, reverse=True)


def _alt(words: Collection[str]) -> str:
    return "(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + ")"


@dataclass(frozen=True)
class Matcher:
    """The compiled patterns for one identity (build it with ``matcher``)."""

    mention: re.Pattern[str] | None  # groups email / name / username, in that priority
    output: re.Pattern[str]  # the above plus home and /tmp paths
    filename: re.Pattern[str] | None
    handle: re.Pattern[str] | None  # username or alias anywhere (inside /tmp paths)
    # casefolded strings at least one of which any match holds: a text holding none of them
    # skips the (much slower) regular expression
    mention_needles: tuple[str, ...]
    output_needles: tuple[str, ...]

    def may_mention(self, text: str) -> bool:
        folded = text.casefold()
        return any(n in folded for n in self.mention_needles)

    def may_output(self, text: str) -> bool:
        folded = text.casefold()
        return any(n in folded for n in self.output_needles)


@lru_cache(maxsize=64)
def matcher(identity: Identity) -> Matcher:
    """The patterns that find ``identity`` in sources, outputs and file names (cached)."""
    handles = {h.strip() for h in (identity.username, *identity.aliases) if len(h.strip()) >= 2}
    words = identity.name.split()
    tokens = [_alt(_spellings(t)) for t in words]
    names = []
    if len(tokens) == 1:
        names.append(tokens[0])
    elif tokens:
        names += [
            r"\s+".join(tokens),
            rf"{tokens[0]}\s+{tokens[-1]}",
            rf"{tokens[-1]},\s*{tokens[0]}",
        ]
    email = identity.email.strip()
    parts = [rf"(?P<email>{_B0}{re.escape(email)}{_B1})"] if email else []
    if names:
        parts.append(rf"(?P<name>{_B0}(?:{'|'.join(names)}){_B1})")
    if handles:
        parts.append(rf"(?P<username>{_B0}{_alt(handles)}{_B1})")
    seg = r"[^/\s'\"\\<>:;,|()\[\]{}`]+"
    paths = [
        rf"(?P<home>(?<![\w.-])/(?:home|Users)/{seg})",
        rf"(?P<winhome>(?<![^\W_])[A-Za-z]:(?:\\{{1,2}}|/)users(?:\\{{1,2}}|/){seg})",
        r"(?P<tmp>(?<![\w.-])/tmp/[^\s'\"<>|]*)",
    ]
    flags = re.IGNORECASE
    mention = re.compile("|".join(parts), flags) if parts else None
    output = re.compile("|".join(parts[:1] + paths + parts[1:] if email else paths + parts), flags)
    in_names = [_alt(handles)] if handles else []
    if len(tokens) >= 2:
        in_names.append(rf"{tokens[0]}[\W_]*{tokens[-1]}")
    elif tokens:
        in_names.append(tokens[0])
    filename = re.compile(rf"{_B0}(?:{'|'.join(in_names)}){_B1}", flags) if in_names else None
    handle = re.compile(_alt(handles), flags) if handles else None
    first = _spellings(words[0]) if words else []
    needles = {w.casefold() for w in (email, *handles, *first) if w}
    paths_in = ("/home/", "/users/", "users\\", "/tmp/")
    return Matcher(
        mention, output, filename, handle, tuple(sorted(needles)), tuple(sorted(needles)) + paths_in
    )


def scrub(text: str, m: Matcher) -> str:
    """Replace the author's email, name, handles and home and /tmp paths in output text."""

    def sub(hit: re.Match[str]) -> str:
        kind = hit.lastgroup
        if kind in ("home", "winhome"):
            return "~"
        if kind == "tmp":
            return m.handle.sub(PLACEHOLDER, hit.group()) if m.handle else hit.group()
        return EMAIL_PLACEHOLDER if kind == "email" else PLACEHOLDER

    return m.output.sub(sub, text) if m.may_output(text) else text


def scrub_value(value: Any, m: Matcher) -> Any:
    """``scrub`` every string (dict keys too) of a JSON value."""
    if isinstance(value, str):
        return scrub(value, m)
    if isinstance(value, list):
        return [scrub_value(v, m) for v in value]
    if isinstance(value, dict):
        return {scrub(k, m): scrub_value(v, m) for k, v in value.items()}
    return value


def _is_text_mime(mime: str) -> bool:
    return mime.startswith("text/") or "json" in mime or mime.endswith(("+xml", "javascript"))


def scrub_output(out: MutableMapping[str, Any], m: Matcher) -> None:
    """Scrub a notebook output in place: text of every kind (dict keys inside JSON too), never
    binary data nor the output's own structure."""
    for key, value in out.items():
        if key == "data":
            for mime, v in value.items():
                if _is_text_mime(mime):
                    value[mime] = scrub_value(v, m)
        elif key == "metadata":
            for k, v in value.items():
                value[k] = scrub_value(v, m)
        elif key not in ("output_type", "name", "execution_count"):
            out[key] = scrub_value(value, m)  # stream text, error ename/evalue/traceback


def _snippet(text: str, start: int, end: int) -> str:
    around = text[max(0, start - _SNIPPET) : end + _SNIPPET]
    return " ".join(around.split())


def mentions(text: str, m: Matcher, file: str, cell: int) -> list[Mention]:
    """The author's mentions in a source ``text``, each with a snippet of context."""
    if m.mention is None or not m.may_mention(text):
        return []
    return [
        Mention(file, cell, hit.lastgroup or "", _snippet(text, hit.start(), hit.end()))
        for hit in m.mention.finditer(text)
    ]
