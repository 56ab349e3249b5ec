"""Requests into the input models of ``inputs.py``, and what is wrong with one into the 422
the API answers, naming the field: one place for every route, so a member reads the same
words whatever they got wrong."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from nbcohort.cohorts.api.inputs import ID_MAX
from nbcohort.cohorts.services.errors import Invalid, NotFound

__all__ = ["parse_body", "parse_query", "path_id"]

M = TypeVar("M", bound=BaseModel)

# pydantic's error types, as a member reads them; others keep pydantic's own words.
_SAYS = {
    "missing": "is required",
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "dict_type": "must be an object",
    "list_type": "must be a list",
    "model_type": "must be an object",
    "string_too_long": "must be at most {max_length} characters",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "literal_error": "must be {expected}",
    "too_long": "must have at most {max_length} items",
    "string_pattern_mismatch": "must look like {pattern}",
}


def _refusal(error: ValidationError) -> Invalid:
    """The first problem pydantic found, as the 422 the API answers, naming the field."""
    first = error.errors(include_url=False, include_input=False)[0]
    # A union's branch names itself after the field (``parent_id.int``): name the field.
    loc = [str(part) for part in first["loc"] if not isinstance(part, int)]
    kind = first["type"]
    if kind == "json_invalid":
        return Invalid(f"request body is not valid JSON: {first['msg']}", field="body")
    if not loc:
        return Invalid("request body must be a JSON object", field="body")
    says = _SAYS.get(kind)
    text = says.format(**first.get("ctx", {})) if says else first["msg"].lower()
    return Invalid(f"{loc[0]} {text}", field=loc[0])


def _refuse_nul(value: Any, field: str) -> None:
    """A NUL character is text no one types, and PostgreSQL refuses it in a text column (a
    500 if it got that far): refused wherever it hides in what was given."""
    if isinstance(value, str):
        if "\x00" in value:
            raise Invalid(f"{field} holds a NUL character (U+0000)", field=field)
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(key, field)
            _refuse_nul(item, field)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _refuse_nul(item, field)
    elif isinstance(value, BaseModel):
        for _, item in value:
            _refuse_nul(item, field)


def parse_body(model: type[M], raw: bytes) -> M:
    """``raw`` as ``model``; an empty body is an empty object. Raises Invalid (422)."""
    try:
        parsed = model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise _refusal(exc) from None
    if b"\\u0000" in raw:  # the only way JSON carries a NUL: look closer only then
        for name, value in parsed:
            _refuse_nul(value, name)
    return parsed


def parse_query(model: type[M], arguments: Mapping[str, list[bytes]]) -> M:
    """The query string as ``model`` (a repeated name: its last value). Raises Invalid."""
    values: dict[str, Any] = {}
    for name, given in arguments.items():
        try:
            values[name] = given[-1].decode("utf-8")
        except UnicodeDecodeError:
            raise Invalid(f"{name}: not UTF-8 text", field=name) from None
        _refuse_nul(values[name], name)
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise _refusal(exc) from None


def path_id(raw: str, what: str, field: str) -> int:
    """An id from the URL: the route's pattern keeps it to digits; one larger than any id
    the database can hold names nothing, so it is not found, like any absent id."""
    value = int(raw)
    if not 1 <= value <= ID_MAX:
        raise NotFound(f"no {what} {raw}", field=field)
    return value
