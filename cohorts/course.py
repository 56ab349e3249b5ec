"""``course/course.toml``: the course's modules, discussion anchors, micro-prompts, practices
and per-assignment review settings. Read once, checked with errors that name file and key."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CourseError", "CourseSpec", "Module", "load_course"]

_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
# A widget call in a code cell that places a section: discussion("anchor"), peer_review("a").
_WIDGET_CALL = re.compile(r"""\b(discussion|peer_review)\(\s*["']([^"']{1,200})["']""")


class CourseError(ValueError):
    """course.toml cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Module:
    id: str
    title: str
    notebooks: tuple[str, ...]
    anchors: tuple[str, ...] = ()


@dataclass(frozen=True)
class CourseSpec:
    id: str
    title: str
    modules: tuple[Module, ...]
    prompts: dict[str, str] = field(default_factory=dict)
    practices: dict[str, str] = field(default_factory=dict)
    assignments: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Where each discussion anchor (and ``peer_review:<assignment>``) is: its notebook, as a
    # learner has it (``<module>/<file>``), its title, and the id of the cell that holds it.
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def anchors(self) -> list[str]:
        return [a for m in self.modules for a in m.anchors]


def _text(value: Any, where: str) -> str:
    if isinstance(value, dict):
        value = value.get("text", value.get("title"))
    if not isinstance(value, str) or not value.strip():
        raise CourseError(f"{where}: expected text")
    return value.strip()


def load_course(path: Path) -> CourseSpec:
    """Parse and check ``course.toml``."""
    try:
        doc = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise CourseError(f"{path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CourseError(f"{path}: {exc}") from None
    course = doc.get("course")
    if not isinstance(course, dict) or "id" not in course:
        raise CourseError(f"{path}: [course] with an id is required")
    modules = []
    for i, raw in enumerate(doc.get("modules", [])):
        where = f"{path} [[modules]] #{i + 1}"
        mid = raw.get("id", "")
        if not _ID.match(str(mid)):
            raise CourseError(f"{where}: id {mid!r} must be lowercase letters, digits, '-'")
        anchors = raw.get("anchors", [])
        sections = raw.get("sections", [])
        anchors = list(anchors) + [s.get("anchor") for s in sections if isinstance(s, dict)]
        for anchor in anchors:
            if not isinstance(anchor, str) or not anchor.startswith(f"{mid}/"):
                raise CourseError(f"{where}: anchor {anchor!r} must start with '{mid}/'")
        modules.append(
            Module(mid, str(raw.get("title", mid)), tuple(raw.get("notebooks", [])), tuple(anchors))
        )
    prompts = {k: _text(v, f"{path} [prompts].{k}") for k, v in doc.get("prompts", {}).items()}
    practices = {
        k: _text(v, f"{path} [practices].{k}") for k, v in doc.get("practices", {}).items()
    }
    for key in list(prompts) + list(practices):
        if not _ID.match(key):
            raise CourseError(f"{path}: key {key!r} must be lowercase letters, digits and '-'")
    return CourseSpec(
        sections=_sections(path.parent / "source", doc.get("modules", [])),
        id=str(course["id"]),
        title=str(course.get("title", course["id"])),
        modules=tuple(modules),
        prompts=prompts,
        practices=practices,
        assignments=dict(doc.get("assignments", {})),
    )


def _sections(source: Path, modules: list[Any]) -> dict[str, dict[str, Any]]:
    """Each section's notebook and title from course.toml, and the cell that holds its widget
    from the source notebooks (nbgrader keeps cell ids in the released copies). A notebook
    that cannot be read only loses its cell ids."""
    out: dict[str, dict[str, Any]] = {}
    for raw in modules:
        mid = str(raw.get("id", ""))
        titles = {
            s.get("anchor"): str(s.get("title", ""))
            for s in raw.get("sections", [])
            if isinstance(s, dict)
        }
        for name in raw.get("notebooks", []):
            notebook = f"{mid}/{name}"
            for kind, arg, cell in _widget_cells(source / mid / str(name)):
                key = arg if kind == "discussion" else f"peer_review:{arg}"
                title = titles.get(arg, "") if kind == "discussion" else f"Peer review: {arg}"
                out.setdefault(key, {"notebook": notebook, "title": title, "cell": cell})
        for section in raw.get("sections", []):  # sections whose widget was not found
            if isinstance(section, dict) and section.get("anchor") and section.get("notebook"):
                out.setdefault(
                    str(section["anchor"]),
                    {
                        "notebook": f"{mid}/{section['notebook']}",
                        "title": str(section.get("title", "")),
                        "cell": None,
                    },
                )
    return out


def _widget_cells(path: Path) -> list[tuple[str, str, str | None]]:
    try:
        cells = json.loads(path.read_text("utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return []
    found = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        for kind, arg in _WIDGET_CALL.findall(text):
            found.append((kind, arg, cell.get("id")))
    return found
