"""Reading the operator's YAML files: errors name the file, the line and the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
import yaml

from colla.errors import BadInput


def load_yaml_mapping(path: Path) -> dict[str, Any]:
    """Parse ``path`` as a YAML mapping (an empty file is an empty mapping)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except OSError as e:
        raise BadInput(f"{path}: cannot read: {e.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise BadInput(f"{where}: malformed YAML: {e.problem or e}") from None
    except yaml.YAMLError as e:
        raise BadInput(f"{path}: malformed YAML: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a mapping of keys to values at the top level")
    return data


# pydantic error types → what the operator should have written; pydantic's own
# wording ("Input should be a valid integer") reads like a programmer's message.
_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "a boolean (true or false)",
    "bool_parsing": "a boolean (true or false)",
    "string_type": "a string",
    "dict_type": "a mapping",
    "list_type": "a list",
    "tuple_type": "a list",
}


def describe_validation_error(path: Path, error: pydantic.ValidationError) -> str:
    """One line for the first problem pydantic found, naming the file, the key and the fix."""
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    kind = first["type"]
    got = first.get("input")
    if kind == "extra_forbidden":
        return f"{path}: unknown key '{key}'"
    if kind == "missing":
        return f"{path}: missing key '{key}'"
    if kind in _EXPECTED:
        # YAML turns unquoted 2023.1 or 0123 into numbers; the fix is quoting.
        hint = "; put it in quotes" if kind == "string_type" and _is_scalar(got) else ""
        return f"{path}: key '{key}': expected {_EXPECTED[kind]} (got {got!r}{hint})"
    ctx = first.get("ctx") or {}
    if kind == "greater_than_equal":
        return f"{path}: key '{key}': must be at least {ctx['ge']} (got {got!r})"
    if kind == "less_than_equal":
        return f"{path}: key '{key}': must be at most {ctx['le']} (got {got!r})"
    # Our own validators raise ValueError; pydantic prefixes the text with this.
    message = first["msg"].removeprefix("Value error, ")
    return f"{path}: key '{key}': {message} (got {got!r})"


def _is_scalar(value: Any) -> bool:
    return isinstance(value, int | float | bool)
