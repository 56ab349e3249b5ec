"""Tables on the pages, as HTML and as a CSV download (a data: link, so it works with no
server and offline). Every cell is member text or a number: escaped in HTML, and in CSV a
cell a spreadsheet would run as a formula (starting with =, +, -, @, a tab or a carriage
return) is prefixed with ' so it stays text (OWASP's advice on CSV injection)."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from typing import Any

import pandas as pd

__all__ = ["csv_cell", "csv_link", "html_table"]

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "; ".join(_text(v) for v in value)
    return str(value)


def csv_cell(value: Any) -> Any:
    """A value safe to open in a spreadsheet: text that would start a formula is quoted."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = _text(value)
    return "'" + text if text.startswith(_FORMULA) else text


def csv_link(rows: Sequence[dict[str, Any]], columns: Sequence[str], filename: str) -> str:
    """A link that downloads ``rows`` (only ``columns``) as ``filename``."""
    frame = pd.DataFrame([{c: csv_cell(r.get(c)) for c in columns} for r in rows], columns=columns)
    data = base64.b64encode(frame.to_csv(index=False).encode("utf-8")).decode("ascii")
    return (
        f'<a download="{html.escape(filename)}" href="data:text/csv;charset=utf-8;base64,{data}">'
        f"Download {html.escape(filename)}</a>"
    )


def html_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], caption: str, empty: str
) -> str:
    """``rows`` as an HTML table with a caption; ``empty`` in words when there are none."""
    if not rows:
        return f'<p class="nbc-meta">{html.escape(empty)}</p>'
    head = "".join(f'<th scope="col">{html.escape(c.replace("_", " "))}</th>' for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_text(r.get(c)))}</td>" for c in columns) + "</tr>"
        for r in rows
    )
    return (
        f'<table class="nbc-table"><caption>{html.escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )
