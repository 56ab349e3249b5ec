"""The exchange's boundary, checked two ways (DESIGN.md: exchange -> cohorts services + nbgrader;
private names stay private to their module).

``reach_violations`` reads a module with ``ast``: all of its code, also paths no test runs. It
finds a row changed or added through a session the exchange opened (a name bound by ``with
store.write() as s``, a ``session``/``s`` parameter or one typed ``Session``), a row being a
value that came out of that session or out of a call it was passed to, or a parameter typed as
a model; Core write constructs; and another nbcohort module's private names.

``watch_orm_writes`` sees what actually happens while code runs: every attribute set and every
row added on nbcohort's models, with the code that did it. A write whose nearest nbcohort frame
is in exchange/ (not in the services it calls) is a violation, whatever the syntax.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import RelationshipProperty, Session

import nbcohort.cohorts
import nbcohort.exchange
import nbcohort.widgets
from nbcohort.cohorts.models import Base

EXCHANGE = Path(nbcohort.exchange.__file__).resolve().parent
_PRODUCT = tuple(
    str(Path(pkg.__file__).resolve().parent) + "/"
    for pkg in (nbcohort.cohorts, nbcohort.exchange, nbcohort.widgets)
)
_TESTS = str(Path(__file__).resolve().parents[1]) + "/"
_MODELS = frozenset(m.class_.__name__ for m in Base.registry.mappers)
_SESSION_WRITES = frozenset(["add", "add_all", "delete", "merge"])
_SESSION_WRITES |= {"bulk_save_objects", "bulk_insert_mappings", "bulk_update_mappings"}
_CORE_WRITES = frozenset(["insert", "update", "delete", "text"])
# builtins whose result holds the very objects they were given (``dict(row.json)`` is a copy)
_PASS_THROUGH = frozenset(["list", "tuple", "set", "sorted", "reversed", "iter", "next", "zip"])
_PASS_THROUGH |= {"enumerate", "filter", "min", "max"}


# -- reading the code ---------------------------------------------------------------------------
def reach_violations(source: str, filename: str) -> list[str]:
    """Each place ``source`` writes a row itself or reaches another module's private name."""
    tree = ast.parse(source, filename)
    found = _private_reach(tree, filename)
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    top_level = [s for s in tree.body if not isinstance(s, (*functions, ast.ClassDef))]
    scopes: list[ast.AST] = [ast.Module(body=top_level, type_ignores=[])]
    scopes += [n for n in ast.walk(tree) if isinstance(n, functions)]
    for scope in scopes:
        found += _Scope(scope, filename).violations()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "__table__":
            found.append(f"{filename}:{node.lineno}: a model's table reached (Core writes)")
    return sorted(set(found))


def _private_reach(tree: ast.Module, filename: str) -> list[str]:
    found, modules = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            top = node.module.split(".")[0]
            for alias in node.names:
                if top == "sqlalchemy" and alias.name in _CORE_WRITES:
                    found.append(f"{filename}:{node.lineno}: imports sqlalchemy's {alias.name}")
                if top != "nbcohort":
                    continue
                if _is_module(f"{node.module}.{alias.name}"):  # a private module: the package's
                    modules.add(alias.asname or alias.name)
                elif _private(alias.name):
                    found.append(f"{filename}:{node.lineno}: imports {node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
            modules |= {a.asname for a in node.names if a.asname and a.name.startswith("nbcohort")}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and _private(node.attr)
        ):
            found.append(f"{filename}:{node.lineno}: reaches {node.value.id}.{node.attr}")
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _is_module(dotted: str) -> bool:
    try:
        importlib.import_module(dotted)
    except ImportError:
        return False
    return True


class _Scope:
    """One function (or the module's top level): its sessions, its rows, what it writes."""

    def __init__(self, node: ast.AST, filename: str) -> None:
        self.node, self.filename = node, filename
        self.sessions: set[str] = set()
        self.rows: set[str] = set()
        args = node.args if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else None
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs] if args else []:
            hint = ast.unparse(arg.annotation) if arg.annotation else ""
            if arg.arg in ("s", "session") or "Session" in hint:
                self.sessions.add(arg.arg)
            elif any(name in _MODELS for name in _words(hint)):
                self.rows.add(arg.arg)
        for item in self._nodes(ast.withitem):
            if _is_unit_of_work(item.context_expr) and isinstance(item.optional_vars, ast.Name):
                self.sessions.add(item.optional_vars.id)
        while self._spread():  # rows flow through assignments, loops and comprehensions
            pass

    def _nodes(self, kind: type[ast.AST]) -> Iterator[Any]:
        return (n for n in ast.walk(self.node) if isinstance(n, kind))

    def _spread(self) -> bool:
        before = len(self.rows)
        for node in ast.walk(self.node):
            pairs: list[tuple[list[ast.expr], ast.expr | None]] = []
            if isinstance(node, ast.Assign):
                pairs.append((node.targets, node.value))
            elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.NamedExpr):
                pairs.append(([node.target], node.value))
            elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
                pairs.append(([node.target], node.iter))
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                pairs.append(([node.optional_vars], node.context_expr))
            for targets, value in pairs:
                if value is not None and self._touches_store(value):
                    for target in targets:
                        self.rows |= {n.id for n in _unpacked(target) if isinstance(n, ast.Name)}
        return len(self.rows) > before

    def _touches_store(self, expr: ast.expr | None) -> bool:
        """Whether a value may be (or hold) a row: one the session gave, a row's attribute or
        item, a method's result on one, or rows passed through a builtin like ``sorted``. A
        value computed from rows by any other call (``len(rows)``) is not a row."""
        match expr:
            case ast.Name(id=name):
                return name in self.rows
            case ast.Attribute(value=inner) | ast.Subscript(value=inner) | ast.Starred(value=inner):
                return self._touches_store(inner)
            case ast.Call(func=func, args=args):
                if self._session_call(expr):
                    return True
                if isinstance(func, ast.Attribute):
                    return self._touches_store(func.value)
                return _name(func) in _PASS_THROUGH and any(map(self._touches_store, args))
            case ast.Tuple(elts=elts) | ast.List(elts=elts) | ast.Set(elts=elts):
                return any(map(self._touches_store, elts))
            case ast.ListComp(elt=elt) | ast.SetComp(elt=elt) | ast.GeneratorExp(elt=elt):
                return self._touches_store(elt)
            case ast.DictComp(key=key, value=value):
                return self._touches_store(key) or self._touches_store(value)
            case ast.Dict(values=values):
                return any(map(self._touches_store, values))
            case ast.IfExp(body=body, orelse=orelse):
                return self._touches_store(body) or self._touches_store(orelse)
            case ast.BoolOp(values=values):
                return any(map(self._touches_store, values))
        return False

    def _session_call(self, call: ast.Call) -> bool:
        """``s.method(...)``, or any call that is given the session."""
        if isinstance(call.func, ast.Attribute) and _name(call.func.value) in self.sessions:
            return True
        given = [*call.args, *(k.value for k in call.keywords)]
        return any(_name(arg) in self.sessions for arg in given)

    def violations(self) -> list[str]:
        found = []
        for node in ast.walk(self.node):
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = list(node.targets)
            elif isinstance(node, ast.AnnAssign | ast.AugAssign):
                targets = [node.target]
            elif isinstance(node, ast.Delete):
                targets = list(node.targets)
            elif isinstance(node, ast.Call) and _name(node.func) in ("setattr", "delattr"):
                targets = [ast.Attribute(value=node.args[0], attr="?")] if node.args else []
            for target in targets:
                for part in _unpacked(target):
                    if self._changes_a_row(part):
                        found.append(f"{self.filename}:{node.lineno}: changes a row")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in _SESSION_WRITES
                and _name(node.func.value) in self.sessions
            ):
                found.append(f"{self.filename}:{node.lineno}: session.{node.func.attr}(...)")
        return found

    def _changes_a_row(self, target: ast.expr) -> bool:
        if not isinstance(target, ast.Attribute | ast.Subscript):
            return False
        root = target.value
        while isinstance(root, ast.Attribute | ast.Subscript):
            root = root.value
        if isinstance(root, ast.Name):
            return root.id in self.rows
        return self._touches_store(root)


def _is_unit_of_work(expr: ast.expr) -> bool:
    """``store.write()`` / ``store.read()``: the store's session scopes."""
    return (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and expr.func.attr in ("write", "read")
    )


def _unpacked(target: ast.expr) -> list[ast.expr]:
    if isinstance(target, ast.Tuple | ast.List):
        return [t for elt in target.elts for t in _unpacked(elt)]
    return [target.value if isinstance(target, ast.Starred) else target]


def _name(expr: ast.expr) -> str | None:
    return expr.id if isinstance(expr, ast.Name) else None


def _words(text: str) -> set[str]:
    return set("".join(ch if ch.isalnum() or ch == "_" else " " for ch in text).split())


# -- watching it run ----------------------------------------------------------------------------
@contextmanager
def watch_orm_writes(found: list[str]) -> Iterator[None]:
    """While inside, every attribute set and row added on nbcohort's models whose nearest
    nbcohort frame is exchange code is appended to ``found`` (where, what)."""

    def check(what: str) -> None:
        frame: FrameType | None = sys._getframe(1)
        while frame is not None:
            path = frame.f_code.co_filename
            if path.startswith(str(EXCHANGE) + "/"):
                found.append(f"{Path(path).name}:{frame.f_lineno} ({frame.f_code.co_name}): {what}")
                return
            if path != __file__ and path.startswith((*_PRODUCT, _TESTS)):
                return  # the services (or the models, the store, a test) made it
            frame = frame.f_back

    def on_set(target: Any, value: Any, _old: Any, initiator: Any) -> None:
        check(f"{type(target).__name__}.{initiator.key} = {value!r}"[:200])

    def on_collection(target: Any, value: Any, initiator: Any) -> None:
        check(f"{type(target).__name__}.{initiator.key} changed"[:200])

    def on_add(_session: Session, instance: Any) -> None:
        if isinstance(instance, Base):
            check(f"session.add({type(instance).__name__})")

    listeners: list[tuple[Any, str, Any]] = [(Session, "transient_to_pending", on_add)]
    for mapper in Base.registry.mappers:
        for prop in mapper.attrs:
            if prop.parent is not mapper:
                continue  # inherited: listened to where it is declared, with propagate
            attr = getattr(mapper.class_, prop.key)
            if isinstance(prop, RelationshipProperty) and prop.uselist:
                listeners += [(attr, "append", on_collection), (attr, "remove", on_collection)]
            else:
                listeners.append((attr, "set", on_set))
    for target, name, fn in listeners:
        event.listen(target, name, fn, **({} if target is Session else {"propagate": True}))
    try:
        yield
    finally:
        for target, name, fn in listeners:
            event.remove(target, name, fn)
