"""nbcohort's widget classes never shadow what ipywidgets itself calls: ``Widget.open()``
opens the comm in ``__init__``, so a class with its own ``open`` renders as "Error displaying
widget: model not found" (the community topics widget once did); ``send`` is the custom
message API. Only ``close`` may be extended (it must call ``super().close()``)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import ipywidgets as w

import nbcohort.widgets as package

EXTENDED = {"close"}  # extended on purpose, calling super()


def _widget_classes() -> list[type]:
    found = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for _name, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, w.Widget) and cls.__module__.startswith(package.__name__):
                found.append(cls)
    return found


def test_no_widget_class_shadows_an_ipywidgets_method() -> None:
    classes = _widget_classes()
    assert len(classes) >= 5  # the discussion, prompt, notifications, topics... widgets
    base = {n for n in dir(w.DOMWidget) if not n.startswith("__")}
    clashes = {
        f"{cls.__module__}.{cls.__name__}.{name}"
        for cls in classes
        for name in vars(cls)
        if name in base and name not in EXTENDED and not name.startswith("_")
        and callable(getattr(w.DOMWidget, name, None))
    }  # fmt: skip
    assert clashes == set()
