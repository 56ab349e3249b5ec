"""The one sanitizer: member Markdown in, safe HTML out. Nothing else renders member text."""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import escape

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

__all__ = ["MENTION", "find_mentions", "markdown_text", "render_markdown"]

# @username as members type it; a trailing dot is sentence punctuation, not part of the name.
MENTION = re.compile(r"(?<![\w@.+-])@([\w][\w.+-]{0,127})")


def find_mentions(source: str) -> set[str]:
    """Usernames that ``source`` may mention (the caller keeps the ones that are members)."""
    return {m.group(1).rstrip(".") for m in MENTION.finditer(source)}


# What Markdown gives a meaning to (CommonMark lets a backslash escape each); quotes it does not.
_MD_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&@=:])")


def markdown_text(text: str) -> str:
    """``text`` (a member's name, a title) as Markdown that renders as exactly that text, on
    one line: quoted in a post the kit writes, it can be no link, image, heading or list, and
    its @names mention nobody."""
    flat = " ".join(text.split())
    return _MD_PUNCTUATION.sub(r"\\\1", flat).replace("\\@", "\\@\u2060")


def _mentions_rule(state: StateCore) -> None:
    """Turn @username in plain text (never in code) into a mention of a known member."""
    known: Mapping[str, int] = state.env.get("mentions") or {}
    if not known:
        return
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children: list[Token] = []
        for tok in block.children:
            if tok.type != "text" or "@" not in tok.content:
                children.append(tok)
                continue
            text, last = tok.content, 0
            for m in MENTION.finditer(text):
                name = m.group(1).rstrip(".")
                if name not in known:
                    continue
                start, end = m.start(), m.start() + 1 + len(name)
                if start > last:
                    children.append(_text(text[last:start]))
                mention = Token("mention", "", 0)
                mention.meta = {"member": known[name], "username": name}
                children.append(mention)
                last = end
            if last < len(text):
                children.append(_text(text[last:]))
        block.children = children


def _text(content: str) -> Token:
    tok = Token("text", "", 0)
    tok.content = content
    return tok


def _render_mention(
    _self: object, tokens: list[Token], idx: int, _opts: object, _env: object
) -> str:
    meta = tokens[idx].meta
    return (
        f'<span class="nbc-mention" data-member="{int(meta["member"])}">'
        f"@{escape(meta['username'])}</span>"
    )


_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)


def _render_image(_self: object, tokens: list[Token], idx: int, _opts: object, _env: object) -> str:
    """An image becomes a link to it: a remote image in a post would tell its host who read
    the post and when, and reads are private."""
    tok = tokens[idx]
    alt = "".join(child.content for child in tok.children or []) or "image"
    depth = sum(
        1 if t.type == "link_open" else -1 if t.type == "link_close" else 0 for t in tokens[:idx]
    )
    if depth > 0:  # already inside a link: keep that link, show the image as text
        return f"🖼 {escape(alt)}"
    return f'<a href="{escape(str(tok.attrGet("src") or ""))}">🖼 {escape(alt)}</a>'


_md.core.ruler.push("mentions", _mentions_rule)
_md.add_render_rule("mention", _render_mention)
_md.add_render_rule("image", _render_image)

_TAGS = {
    "a",
    "p",
    "br",
    "hr",
    "em",
    "strong",
    "del",
    "s",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "span",
}
_ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},
    "th": {"style"},
    "td": {"style"},
    "ol": {"start"},
    "span": {"class", "data-member"},
}


def render_markdown(source: str, mentions: Mapping[str, int] | None = None) -> str:
    """Render member Markdown to HTML that is safe to show on any page.

    ``mentions`` maps usernames to member ids: those @mentions become links to the member,
    any other @name stays plain text. Raw HTML in the source is escaped by the parser, and the
    result is cleaned again by nh3 (scripts, styles, iframes, event handlers and javascript:
    URLs cannot survive).
    """
    html = _md.render(source, {"mentions": dict(mentions or {})})
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
        filter_style_properties={"text-align"},
    )
