"""Where each key of a TOML file is written: the line a problem with that key points at.

tomllib (and tomlkit) keep no positions, so the text is read once, line by line, following
table headers (``[a.b]``, ``[[a.b]]`` with its item number), ``key = value`` lines, dotted
keys, one-line inline tables, and multi-line strings and arrays (skipped over). A key that
is not found on a line of its own (an item of an array, a key inside a multi-line value)
is placed at the nearest key above it in the tree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["KeyLines", "Path"]

Path = tuple[str | int, ...]

_BARE = r"[A-Za-z0-9_-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"|\'[^\']*\''
_PART = rf"(?:{_BARE}|{_QUOTED})"
_DOTTED = rf"{_PART}(?:\s*\.\s*{_PART})*"
_HEADER = re.compile(rf"^\s*(\[\[?)\s*({_DOTTED})\s*\]\]?\s*(?:#.*)?$")
_ASSIGN = re.compile(rf"^\s*({_DOTTED})\s*=\s*(.*)$")
_INLINE_KEY = re.compile(rf"[{{,]\s*({_DOTTED})\s*=")


def _parts(dotted: str) -> list[str]:
    return [p.strip().strip("\"'") for p in re.findall(_PART, dotted)]


def _open_brackets(value: str) -> int:
    """Brackets ``[``/``{`` left open at the end of ``value``, outside strings and comments."""
    depth, quote = 0, ""
    for ch in value:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
    return depth


class KeyLines:
    """The line (1-based) of every key path in a TOML text."""

    def __init__(self, text: str) -> None:
        self.lines: dict[Path, int] = {}
        tables: dict[tuple[str, ...], int] = {}  # array-of-tables path -> items so far
        table: Path = ()
        closing = ""  # a multi-line string's delimiter while inside one
        depth = 0  # brackets open while inside a multi-line array or inline table
        for number, line in enumerate(text.splitlines(), start=1):
            if closing:
                if line.count(closing) % 2 == 1:
                    closing = ""
                continue
            if depth > 0:
                depth += _open_brackets(line)
                continue
            header = _HEADER.match(line)
            if header:
                names = _parts(header.group(2))
                if header.group(1) == "[[":
                    tables[tuple(names)] = tables.get(tuple(names), 0) + 1
                table = self._resolve(names, tables)
                self.lines.setdefault(table, number)
                continue
            assign = _ASSIGN.match(line)
            if not assign:
                continue
            path = table + tuple(_parts(assign.group(1)))
            self.lines.setdefault(path, number)
            value = assign.group(2)
            for delim in ('"""', "'''"):
                if value.count(delim) % 2 == 1:
                    closing = delim
                    break
            if not closing:
                depth = _open_brackets(value)
                if value.lstrip().startswith("{"):
                    for inner in _INLINE_KEY.findall(value):
                        self.lines.setdefault(path + tuple(_parts(inner)), number)

    @staticmethod
    def _resolve(names: Sequence[str], tables: dict[tuple[str, ...], int]) -> Path:
        """A header's path, with the current item number after each array of tables."""
        path: list[str | int] = []
        for i, name in enumerate(names):
            path.append(name)
            count = tables.get(tuple(names[: i + 1]))
            if count:
                path.append(count - 1)
        return tuple(path)

    def line_of(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor written in the file."""
        for end in range(len(path), 0, -1):
            found = self.lines.get(tuple(path[:end]))
            if found is not None:
                return found
        return None
