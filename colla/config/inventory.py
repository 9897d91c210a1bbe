"""The inventory: which hosts exist and which groups they are in (Ansible INI or YAML)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colla.config.hostnames import check_address, check_host_name
from colla.config.names import interface_problem
from colla.errors import BadInput
from colla.textfile import quote, read_text
from colla.yamlfile import parse_yaml_mapping

GROUPS = ("control", "network", "compute", "storage", "monitoring")

# Older kolla-ansible inventories still use Ansible's pre-2.0 variable names.
_ALIASES = {f"ansible_ssh_{name}": f"ansible_{name}" for name in ("host", "user", "port")}
_HEADER = re.compile(r"^\[(?P<group>[A-Za-z0-9_.\-]+)(?::(?P<kind>children|vars))?\]$")
_GROUP = re.compile(r"^[A-Za-z0-9_.\-]+$")
_RANGE = re.compile(r"\[(?P<spec>[^\[\]]*:[^\[\]]*)\]")
_PORT = re.compile(r"[0-9]{1,5}")
_YAML_GROUP_KEYS = ("hosts", "children", "vars")
# A YAML document starts with '---' or a key; an INI file with a header or a host.
_YAML_START = re.compile(r"^(?:---|[^\s\[=#;]+:)(?:\s|$)")
# Host variables that name an interface on that host.
_INTERFACE_VARS = (
    "network_interface",
    "api_interface",
    "neutron_external_interface",
    "tunnel_interface",
)
# More hosts than colla can deploy to; the bound keeps a typo such as node[1:100000]
# from taking a minute to expand (it did) and then failing somewhere else.
MAX_HOSTS = 1000


@dataclass(frozen=True)
class Host:
    """One machine; ``vars`` holds its variables other than those given their own field."""

    name: str
    address: str
    user: str | None = None
    port: int | None = None
    connection: str | None = None
    network_interface: str | None = None
    api_interface: str | None = None
    key_file: str | None = None
    vars: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Inventory:
    """Hosts by name and, for each group, the names of all its hosts (children included)."""

    hosts: Mapping[str, Host]
    groups: Mapping[str, tuple[str, ...]]

    def hosts_in(self, group: str) -> tuple[Host, ...]:
        """The hosts of ``group``, sorted by name; none for a group that does not exist."""
        return tuple(self.hosts[name] for name in sorted(self.groups.get(group, ())))

    def groups_of(self, host: str) -> tuple[str, ...]:
        """The groups ``host`` is in, sorted by name."""
        return tuple(sorted(group for group, names in self.groups.items() if host in names))


_AIO_HOST = "localhost ansible_connection=local ansible_host=127.0.0.1"
AIO_INVENTORY_TEXT = (
    "# colla all-in-one inventory: every service runs on this machine.\n"
    "# kolla-ansible's INI format; for several machines, list them under each group.\n"
) + "".join(f"\n[{group}]\n{_AIO_HOST}\n" for group in GROUPS)


def all_in_one() -> Inventory:
    """The inventory of a single-machine deployment: localhost in every group."""
    host = Host(name="localhost", address="127.0.0.1", connection="local")
    return Inventory({host.name: host}, {group: (host.name,) for group in GROUPS})


def load_inventory(path: Path) -> Inventory:
    """Read an inventory: Ansible YAML for .yml/.yaml files, kolla-ansible's INI otherwise.

    A file of another name is read as YAML when it starts like YAML (``---`` or
    ``all:``), as Ansible itself reads a file without an extension: kolla-ansible's
    operators keep YAML inventories named ``inventory`` or ``multinode``.
    """
    text = read_text(path)
    if path.suffix in (".yml", ".yaml") or _starts_like_yaml(text):
        draft = _Draft(path)
        for name, body in parse_yaml_mapping(path, text).items():
            _yaml_group(draft, str(name), body, ())
    else:
        draft = _parse_ini(path, text)
    inventory = draft.resolve()
    if not inventory.groups.get("control"):
        raise BadInput(f"{path}: no host in group 'control'")
    return inventory


@dataclass
class _Draft:
    """What a file says, before groups are resolved through their children."""

    path: Path
    defined: set[str] = field(default_factory=set)
    host_vars: dict[str, dict[str, str]] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)
    children: dict[str, list[tuple[str, int | None]]] = field(default_factory=dict)
    group_vars: dict[str, dict[str, str]] = field(default_factory=dict)
    vars_lines: dict[str, int] = field(default_factory=dict)

    def define(self, group: str) -> None:
        self.defined.add(group)
        self.members.setdefault(group, [])
        self.children.setdefault(group, [])

    def add_host(self, group: str | None, name: str, variables: dict[str, str]) -> None:
        # A host listed in several places gets the union of its variables.
        self.host_vars.setdefault(name, {}).update(variables)
        if group is not None and name not in self.members[group]:
            self.members[group].append(name)

    def resolve(self) -> Inventory:
        for group, number in self.vars_lines.items():
            if group != "all" and group not in self.defined:
                raise BadInput(f"{self.path}:{number}: [{group}:vars] names no defined group")
        for group, kids in self.children.items():
            for child, line in kids:
                if child not in self.defined:
                    raise BadInput(
                        f"{_where(self.path, line)}: group '{group}' "
                        f"has unknown child group '{child}'"
                    )
        self._check_cycles()
        closure: dict[str, set[str]] = {}
        for group in sorted(self.defined):
            self._closure(group, closure)
        depth: dict[str, int] = {}
        hosts: dict[str, Host] = {}
        for name in sorted(self.host_vars):
            merged = dict(self.group_vars.get("all", {}))
            # Ansible's precedence: parent groups first, child groups override
            # them, ties broken by name; the host's own variables win over all.
            mine = [g for g in closure if g != "all" and name in closure[g]]
            for group in sorted(mine, key=lambda g: (self._depth(g, depth), g)):
                merged.update(self.group_vars.get(group, {}))
            merged.update(self.host_vars[name])
            hosts[name] = _host(name, merged)
        groups = {g: tuple(sorted(closure[g])) for g in sorted(closure) if g != "all"}
        return Inventory(hosts, groups)

    def _closure(self, group: str, memo: dict[str, set[str]]) -> set[str]:
        if group not in memo:
            found = set(self.members.get(group, ()))
            for child, _ in self.children.get(group, ()):
                found |= self._closure(child, memo)
            memo[group] = found
        return memo[group]

    def _depth(self, group: str, memo: dict[str, int]) -> int:
        if group not in memo:
            parents = [p for p, kids in self.children.items() if any(k == group for k, _ in kids)]
            memo[group] = 1 + max((self._depth(p, memo) for p in parents if p != "all"), default=0)
        return memo[group]

    def _check_cycles(self) -> None:
        done: set[str] = set()

        def visit(stack: list[str]) -> None:
            if stack[-1] in done:
                return
            for child, line in self.children.get(stack[-1], ()):
                if child in stack:
                    cycle = " -> ".join([*stack[stack.index(child) :], child])
                    where = _where(self.path, line)
                    raise BadInput(f"{where}: group children form a cycle: {cycle}")
                visit([*stack, child])
            done.add(stack[-1])

        for group in sorted(self.defined):
            visit([group])


def _parse_ini(path: Path, text: str) -> _Draft:
    draft = _Draft(path)
    group: str | None = None
    kind = "hosts"
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        where = f"{path}:{number}"
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            header = _HEADER.match(line)
            if header is None:
                raise BadInput(f"{where}: malformed section header {quote(line)}")
            group, kind = header["group"], header["kind"] or "hosts"
            if kind == "vars":
                draft.vars_lines.setdefault(group, number)
            else:
                draft.define(group)
        elif kind == "children":
            if not _GROUP.match(line):
                raise BadInput(f"{where}: expected one group name, got {quote(line)}")
            draft.children[str(group)].append((line, number))
        elif kind == "vars":
            key, sep, value = (part.strip() for part in line.partition("="))
            if not sep or not key or any(c.isspace() for c in key):
                raise BadInput(f"{where}: expected 'key = value', got {quote(line)}")
            key = _ALIASES.get(key, key)
            value = _unquote(value)
            _check_var(key, value, where)
            draft.group_vars.setdefault(str(group), {})[key] = value
        else:
            _ini_host_line(draft, group, line, where)
    return draft


def _ini_host_line(draft: _Draft, group: str | None, line: str, where: str) -> None:
    try:
        # comments=True: Ansible too reads '#' that starts a word as a comment.
        pattern, *pairs = shlex.split(line, comments=True)
    except ValueError as e:
        raise BadInput(f"{where}: cannot parse host line: {e}") from None
    if "=" in pattern:
        raise BadInput(f"{where}: expected a host name before the variables, got {quote(pattern)}")
    variables: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BadInput(f"{where}: expected key=value after the host name, got {quote(pair)}")
        key = _ALIASES.get(key, key)
        _check_var(key, value, where)
        variables[key] = value
    _add_hosts(draft, group, _expand(pattern, where), variables, where)


def _yaml_group(draft: _Draft, name: str, body: Any, parents: tuple[str, ...]) -> None:
    where = f"{draft.path}: group '{name}'"
    if name in parents:
        raise BadInput(f"{where}: group children form a cycle")
    draft.define(name)
    if parents:
        draft.children[parents[-1]].append((name, None))
    if body is None:
        return
    if not isinstance(body, dict):
        raise BadInput(f"{where}: expected a mapping with hosts, children or vars")
    for key in body:
        if key not in _YAML_GROUP_KEYS:
            raise BadInput(f"{where}: unknown key '{key}' (expected hosts, children or vars)")
    for host, variables in _yaml_mapping(body.get("hosts"), f"{where}: hosts").items():
        host_where = f"{draft.path}: host '{host}'"
        names = _expand(str(host), host_where)
        _add_hosts(draft, name, names, _yaml_vars(variables, host_where), host_where)
    draft.group_vars.setdefault(name, {}).update(_yaml_vars(body.get("vars"), where))
    for child, child_body in _yaml_mapping(body.get("children"), f"{where}: children").items():
        _yaml_group(draft, str(child), child_body, (*parents, name))


def _yaml_mapping(value: Any, where: str) -> dict[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadInput(f"{where}: expected a mapping")
    return value


def _yaml_vars(value: Any, where: str) -> dict[str, str]:
    variables: dict[str, str] = {}
    for key, raw in _yaml_mapping(value, where).items():
        if isinstance(raw, dict | list):
            raise BadInput(f"{where}: variable '{key}': colla reads only plain values")
        text = "" if raw is None else str(raw).lower() if isinstance(raw, bool) else str(raw)
        name = _ALIASES.get(str(key), str(key))
        _check_var(name, text, where)
        variables[name] = text
    return variables


def _expand(pattern: str, where: str) -> list[str]:
    """Expand Ansible's numeric host ranges: node[01:03] → node01, node02, node03."""
    match = _RANGE.search(pattern)
    if match is None:
        return [pattern]
    bounds = match["spec"].split(":")
    if len(bounds) not in (2, 3) or not all(re.fullmatch(r"[0-9]+", b) for b in bounds):
        raise BadInput(f"{where}: host range [{match['spec']}]: only numeric ranges expand")
    start, end, step = int(bounds[0]), int(bounds[1]), int(bounds[2]) if len(bounds) == 3 else 1
    if start > end or step < 1:
        raise BadInput(f"{where}: host range [{match['spec']}] is empty")
    # As in Ansible, a leading zero on the start asks for zero-padding to its width.
    width = len(bounds[0]) if bounds[0].startswith("0") else 0
    head, tails = pattern[: match.start()], _expand(pattern[match.end() :], where)
    numbers = range(start, end + 1, step)
    if len(numbers) * len(tails) > MAX_HOSTS:
        raise BadInput(
            f"{where}: host range [{match['spec']}] expands to {len(numbers) * len(tails)} "
            f"hosts; colla takes at most {MAX_HOSTS} in an inventory"
        )
    return [f"{head}{i:0{width}d}{tail}" for i in numbers for tail in tails]


def _add_hosts(
    draft: _Draft, group: str | None, names: list[str], variables: dict[str, str], where: str
) -> None:
    for name in names:
        check_host_name(name, where)
        draft.add_host(group, name, variables)
    if len(draft.host_vars) > MAX_HOSTS:
        raise BadInput(f"{where}: more than {MAX_HOSTS} hosts; colla takes at most that many")


def _starts_like_yaml(text: str) -> bool:
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith(("#", ";")):
            return _YAML_START.match(line) is not None
    return False


def _check_var(key: str, value: str, where: str) -> None:
    if key == "ansible_host" and value:  # empty: the host's name is its address
        check_address(value, where)
    if key == "ansible_port" and not (_PORT.fullmatch(value) and 1 <= int(value) <= 65535):
        raise BadInput(f"{where}: ansible_port: expected a port number 1-65535, got {quote(value)}")
    problem = interface_problem(value) if key in _INTERFACE_VARS else None
    if problem:
        raise BadInput(f"{where}: {key}: {problem} (got {quote(value)})")


def _host(name: str, merged: dict[str, str]) -> Host:
    rest = dict(merged)

    def take(key: str) -> str | None:
        return rest.pop(key, None) or None

    port = take("ansible_port")
    return Host(
        name=name,
        address=take("ansible_host") or name,
        user=take("ansible_user"),
        port=int(port) if port else None,
        connection=take("ansible_connection"),
        network_interface=take("network_interface"),
        api_interface=take("api_interface"),
        key_file=take("ansible_ssh_private_key_file"),
        vars=rest,
    )


def _unquote(value: str) -> str:
    quoted = len(value) >= 2 and value[0] == value[-1] and value[0] in "'\""
    return value[1:-1] if quoted else value


def _where(path: Path, line: int | None) -> str:
    return f"{path}:{line}" if line is not None else str(path)
