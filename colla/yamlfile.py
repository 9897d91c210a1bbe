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


def describe_validation_error(path: Path, error: pydantic.ValidationError) -> str:
    """One line for the first problem pydantic found, naming the file and the key."""
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    kind = first["type"]
    if kind == "extra_forbidden":
        return f"{path}: unknown key '{key}'"
    if kind == "missing":
        return f"{path}: missing key '{key}'"
    return f"{path}: key '{key}': {first['msg']} (got {first.get('input')!r})"
