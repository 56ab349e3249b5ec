"""Search results' snippets: a few words of member text around the words searched, as HTML
that is safe on any page.

The text comes from what a member may already see: a post's sanitized HTML (never its
Markdown source) reduced to its text, an artifact's title and rendered description. Every
piece of it is escaped; the only markup a snippet holds is the ``<mark>`` this module puts
around matched words, so member text can neither open a tag nor close a mark.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from html import escape
from html.parser import HTMLParser

__all__ = ["WORD", "fold", "highlight", "plain_text"]

# A word as search counts one: letters and digits; everything else separates words.
WORD = re.compile(r"[^\W_]+")
_BLOCKS = {"p", "br", "li", "tr", "td", "th", "pre", "blockquote", "h1", "h2", "h3", "h4", "hr"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(html: str) -> str:
    """The text of sanitized HTML, on one line (entities decoded: escape it again)."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return " ".join("".join(parser.parts).split())


def fold(word: str) -> str:
    """A word as search compares it: case and accents set aside."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def highlight(text: str, words: Iterable[str], *, span: int = 30) -> str:
    """HTML of the ``span`` words of ``text`` that hold the most of ``words``, each match in
    ``<mark>``; "…" where text was left out. All of ``text`` is escaped."""
    text = " ".join(text.split())
    wanted = {fold(w) for w in words}
    tokens = list(WORD.finditer(text))
    hits = [_hit(t.group(), wanted) for t in tokens]
    first = _best_window(hits, span)
    if tokens and len(tokens) > span:
        begin = 0 if first == 0 else tokens[first].start()
        last = first + span - 1
        end = len(text) if last >= len(tokens) - 1 else tokens[last].end()
    else:
        begin, end = 0, len(text)
    out = ["…"] if begin > 0 else []
    at = begin
    for token, hit in zip(tokens, hits, strict=True):
        if not hit or token.start() < begin or token.end() > end:
            continue
        out += [escape(text[at : token.start()]), "<mark>", escape(token.group()), "</mark>"]
        at = token.end()
    out.append(escape(text[at:end]))
    if end < len(text):
        out.append("…")
    return "".join(out)


def _hit(token: str, wanted: set[str]) -> bool:
    lower = token.lower()
    return (lower in wanted) if lower.isascii() else (fold(token) in wanted)


def _best_window(hits: list[bool], span: int) -> int:
    """Where a window of ``span`` tokens holds the most hits (the earliest such window),
    started a few tokens before its first hit so the match has some context."""
    if len(hits) <= span:
        return 0
    count = sum(hits[:span])
    best, best_at = count, 0
    for start in range(1, len(hits) - span + 1):
        count += hits[start + span - 1] - hits[start - 1]
        if count > best:
            best, best_at = count, start
    lead = next((i for i in range(best_at, best_at + span) if hits[i]), best_at)
    return max(0, min(lead - 3, len(hits) - span))
