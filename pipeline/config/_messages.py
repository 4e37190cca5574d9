"""Pydantic validation errors as one line per problem: ``<file>: <field.path>: <message>``."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

_TYPE_MESSAGES = {
    "bool_type": "must be true or false, unquoted",
    "int_type": "must be a whole number",
    "float_type": "must be a number",
    "string_type": "must be a string",
    "finite_number": "must be a finite number",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
}


def _short_message(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required field is missing"
    if kind == "greater_than_equal":
        return f"must be >= {ctx.get('ge')}"
    if kind == "greater_than":
        return f"must be > {ctx.get('gt')}"
    if kind == "less_than_equal":
        return f"must be <= {ctx.get('le')}"
    if kind == "less_than":
        return f"must be < {ctx.get('lt')}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} entries"
    if kind == "string_pattern_mismatch":
        return f"contains characters that are not allowed (must match {ctx.get('pattern')})"
    if kind in _TYPE_MESSAGES:
        return _TYPE_MESSAGES[kind]
    if kind == "value_error":
        return str(ctx.get("error", error.get("msg", "")))
    return str(error.get("msg", kind))


def format_validation_error(exc: ValidationError, source: str) -> list[str]:
    """Turn a pydantic error into one line per problem: ``source: field.path: message``."""
    lines = []
    for error in exc.errors():
        loc = ".".join(str(part) for part in error["loc"]) or "(top level)"
        got = error.get("input")
        message = _short_message(error)
        if error.get("type") not in {"missing", "extra_forbidden", "value_error"} and not isinstance(got, dict | list):
            shown = repr(got)
            message += f" (got {shown if len(shown) <= 80 else shown[:77] + '...'})"
        lines.append(f"{source}: {loc}: {message}")
    return lines
