"""Reading the operator's YAML files: errors name the file, the line and the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
import yaml

from colla.errors import BadInput
from colla.textfile import quote, read_text

# colla's deepest file (a YAML inventory: group, children, group, hosts, host, vars)
# nests about six levels; PyYAML's composer recurses per level and died of a
# RecursionError on a file a few thousand levels deep.
MAX_DEPTH = 64
# Values a document may hold once its aliases are expanded. Anchors and aliases stay
# allowed, because Ansible inventories share variables with them (``<<: *common``), but
# nine lines of nested aliases expand to a billion values, which took exponential time
# to walk and gave an error message of 52 MB. A 1000-host inventory needs ~20000.
MAX_VALUES = 100_000


class _Refused(yaml.YAMLError):
    """A document colla will not read; ``line`` is 1-based."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(problem)
        self.line = line
        self.problem = problem


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, with bounded nesting and alias expansion and no duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        # Each finished node's size with its aliases expanded, by id: a node's size is
        # known once its children's are, so a bomb is refused at its first big level.
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            node = super().compose_node(parent, index)
            if id(node) not in self._sizes:
                raise _Refused(mark.line + 1, "an alias refers to the node that contains it")
            return node
        mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(mark.line + 1, f"nested more than {MAX_DEPTH} levels deep")
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        size = 1 + sum(self._sizes[id(child)] for child in children)
        if size > MAX_VALUES:
            raise _Refused(
                mark.line + 1, f"more than {MAX_VALUES} values once its aliases are expanded"
            )
        self._sizes[id(node)] = size
        return node

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        # YAML keeps the last of two equal keys without a word; an operator who wrote
        # a key twice meant one of them, and colla cannot tell which.
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # keys merged in from ``<<`` may be overridden: that is its point
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    if key in seen:
                        raise _Refused(
                            line, f"duplicate key {quote(key)} (first at line {seen[key]})"
                        )
                    seen[key] = line
                except TypeError:
                    continue  # an unhashable key: the constructor refuses it itself
        return super().construct_mapping(node, deep=deep)


def load_yaml_mapping(path: Path) -> dict[str, Any]:
    """Parse ``path`` as a YAML mapping (an empty file is an empty mapping)."""
    return parse_yaml_mapping(path, read_text(path))


def parse_yaml_mapping(path: Path, text: str) -> dict[str, Any]:
    """Parse ``text``, read from ``path``, as a YAML mapping; errors name the file."""
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except _Refused as e:
        raise BadInput(f"{path}:{e.line}: {e.problem}") from None
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        raise BadInput(
            f"{path}:{line}: control character U+{e.character:04X} is not allowed in YAML"
            if isinstance(e.character, int)
            else f"{path}:{line}: unreadable character"
        ) from None
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
    key = quote(".".join(str(part) for part in first["loc"]) or "(top level)")
    kind = first["type"]
    got = first.get("input")
    if kind == "extra_forbidden":
        return f"{path}: unknown key {key}"
    if kind == "missing":
        return f"{path}: missing key {key}"
    if kind in _EXPECTED:
        # YAML turns unquoted 2023.1 or 0123 into numbers; the fix is quoting.
        hint = "; put it in quotes" if kind == "string_type" and _is_scalar(got) else ""
        return f"{path}: key {key}: expected {_EXPECTED[kind]} (got {quote(got)}{hint})"
    ctx = first.get("ctx") or {}
    if kind == "greater_than_equal":
        return f"{path}: key {key}: must be at least {ctx['ge']} (got {quote(got)})"
    if kind == "less_than_equal":
        return f"{path}: key {key}: must be at most {ctx['le']} (got {quote(got)})"
    # Our own validators raise ValueError; pydantic prefixes the text with this.
    message = first["msg"].removeprefix("Value error, ")
    return f"{path}: key {key}: {message} (got {quote(got)})"


def _is_scalar(value: Any) -> bool:
    return isinstance(value, int | float | bool)
