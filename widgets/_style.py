"""Shared look of the widgets: one small stylesheet, buttons, and a few HTML helpers."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

import ipywidgets as w

__all__ = [
    "FILLS",
    "STYLE",
    "author_line",
    "button",
    "search_box",
    "search_row",
    "status",
    "style",
    "when",
]

# Fills of the buttons that stand out, each with white text at 4.5:1 or more (WCAG AA).
# JupyterLab's own success, warning and info colours are lighter (white on #388e3c: 4.11:1).
FILLS = {"primary": "#1565c0", "success": "#2e7d32", "danger": "#c62828", "warning": "#b45309"}

# .nbc-more draws its three dots as a background: any text in it (a glyph, or the zero-width
# space ipywidgets puts in an empty button) would become its accessible name, and that name
# must be its tooltip, one per post. The summary's triangle is a CSS shape beside its text.
STYLE = """<style>
.nbc-card{border-left:3px solid #5b8def;padding:2px 10px;margin:4px 0;
  background:rgba(91,141,239,.04)}
.nbc-card p{margin:4px 0}
.nbc-reply{margin-left:28px;border-left-color:#a0b8f0}
.nbc-meta{font-size:12px;color:#595959}
.nbc-meta b{color:#222}
.nbc-hidden{color:#7a5a24;font-style:italic}
.nbc-offline{color:#666;font-style:italic;padding:4px 0}
.nbc-head{font-weight:600;margin:4px 0}
.nbc-mention{color:#2a5bd7;font-weight:600}
.nbc-status{font-size:12px;color:#a33}
.nbc-ok{font-size:12px;color:#2a7a2a}
.nbc-button:focus-visible{outline:2px solid #1a4fb4!important;outline-offset:1px}
.jupyter-button.nbc-summary{align-self:stretch;height:auto;min-height:32px;padding:5px 10px;
  text-align:left;white-space:normal;line-height:20px;font-weight:600;color:#1d2a44;
  background:#eef2fb;border:1px solid #b7c6e6;border-radius:4px}
.jupyter-button.nbc-summary:hover{background:#e1e8f8}
.nbc-summary::before{content:"";display:inline-block;margin:0 8px 1px 0;border-style:solid;
  border-width:5px 0 5px 8px;border-color:transparent transparent transparent currentColor}
.nbc-summary.nbc-open::before{border-width:8px 5px 0 5px;
  border-color:currentColor transparent transparent transparent}
.nbc-thread{padding-left:4px}
.nbc-row{align-items:flex-start}
.jupyter-button.nbc-more{flex:0 0 auto;width:32px;height:24px;padding:0;margin:6px 0 0 4px;
  color:#333;background-color:transparent;border:1px solid #c8cdd6;border-radius:4px;
  background-image:radial-gradient(circle,currentColor 1.7px,transparent 2.2px),
    radial-gradient(circle,currentColor 1.7px,transparent 2.2px),
    radial-gradient(circle,currentColor 1.7px,transparent 2.2px);
  background-size:6px 6px;background-repeat:no-repeat;
  background-position:calc(50% - 6px) 50%,50% 50%,calc(50% + 6px) 50%}
.jupyter-button.nbc-more:empty::before{content:none}
.jupyter-button.nbc-more:hover,.jupyter-button.nbc-more.nbc-open{background-color:#e8ecf5}
.nbc-panel{margin:0 36px 6px 14px}
.nbc-panel.nbc-reply{border:0;margin-left:42px}
.nbc-actions{flex-wrap:wrap}
.jupyter-button.nbc-mine{color:#123a7a;background:#dbe7fd;border:1px solid #5b8def}
.nbc-label{font-size:11px;font-weight:600;color:#5b2c00;background:#fdecc8;
  border:1px solid #d9a441;border-radius:3px;padding:0 4px;text-transform:uppercase}
</style>"""


def style() -> w.HTML:
    return w.HTML(STYLE)


def when(iso: str | None) -> str:
    if not iso:
        return ""
    return datetime.fromisoformat(iso).strftime("%d %b %H:%M UTC")


def author_line(post: dict[str, Any], badges: list[dict[str, Any]] | None = None) -> str:
    """The author's name, role and badges (shown beside the name), and when they wrote."""
    author = post["author"]
    role = "" if author["role"] == "learner" else f" · {html.escape(author['role'])}"
    if post.get("label"):  # a leader's reply (#16 part 4)
        role = f' <span class="nbc-label">{html.escape(post["label"])}</span>'

    edited = " · edited" if post.get("edited_at") else ""
    shown = "".join(
        f' <span class="nbc-badge" title="{html.escape(b.get("reason", ""))}">'
        f"🏅 {html.escape(b['title'])}</span>"
        for b in (badges or [])
    )
    return (
        f'<div class="nbc-meta"><b>{html.escape(author["name"])}</b>{shown}{role} · '
        f"{when(post['created_at'])}{edited}</div>"
    )


def button(label: str, tooltip: str = "", *, kind: str = "", **kw: Any) -> w.Button:
    """A real button; ``kind`` (one of FILLS) makes it stand out with a readable fill."""
    kw.setdefault("layout", w.Layout(width="auto", height="28px"))
    b = w.Button(description=label, tooltip=tooltip or label, **kw)
    b.add_class("nbc-button")
    if kind:
        b.style.button_color, b.style.text_color = FILLS[kind], "white"
    return b


def status(message: str = "", ok: bool = False) -> str:
    css = "nbc-ok" if ok else "nbc-status"
    return f'<div class="{css}">{html.escape(message)}</div>' if message else ""


def search_box(label: str, what: str, **kw: Any) -> w.Text:
    """A search box with its own label that shares its row with its button: it grows to fill
    the row and shrinks (to 10em) before the button is pushed out; see ``search_row``."""
    return w.Text(
        description=label,
        placeholder=what,
        continuous_update=False,
        layout=w.Layout(flex="1 1 16em", width="auto", min_width="10em"),
        style={"description_width": "initial"},
        **kw,
    )


def search_row(*parts: w.Widget) -> w.HBox:
    """A box and its buttons on one row that wraps when narrow (at 200 % zoom a 1280 px
    window is 640 CSS px): the buttons go below the box instead of being cut off."""
    return w.HBox(list(parts), layout=w.Layout(flex_flow="row wrap", width="100%"))
