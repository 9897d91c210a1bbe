"""Choosing images (filters, profiles) and ordering them parents-first with graphlib."""

from __future__ import annotations

import difflib
import graphlib
import re
from collections.abc import Iterable, Sequence

from colla.errors import BadInput
from colla.images.catalog import Catalog


def check_acyclic(catalog: Catalog) -> None:
    """Raise BadInput naming the cycle when declared parents loop."""
    sorter = graphlib.TopologicalSorter(
        {name: [image.parent] if image.parent else [] for name, image in catalog.images.items()}
    )
    try:
        sorter.prepare()
    except graphlib.CycleError as e:
        cycle = e.args[1]
        raise BadInput(
            f"{catalog.root / 'images.yaml'}: the declared parents form a cycle: "
            + " → ".join(cycle)
        ) from None


def select(catalog: Catalog, filters: Sequence[str], profile: str | None = None) -> set[str]:
    """The images chosen by regex ``filters`` and/or a ``profile``, with their ancestors.

    No filter and no profile chooses every image. Ancestors are always included,
    because a child is built FROM its parent's freshly built tag.
    """
    check_acyclic(catalog)
    chosen: set[str] = set()
    if profile is not None:
        if profile not in catalog.profiles:
            known = ", ".join(sorted(catalog.profiles))
            raise BadInput(f"unknown profile '{profile}'; known profiles: {known}")
        chosen.update(catalog.profiles[profile])
    for pattern in filters:
        chosen.update(_match(catalog, pattern))
    if not filters and profile is None:
        chosen.update(catalog.images)
    for name in list(chosen):
        chosen.update(catalog.ancestors(name))
    return chosen


def _match(catalog: Catalog, pattern: str) -> set[str]:
    try:
        regex = re.compile(pattern)
    except re.error as e:
        raise BadInput(f"image filter '{pattern}' is not a valid regular expression: {e}") from None
    found = {name for name in catalog.images if regex.search(name)}
    if not found:
        close = difflib.get_close_matches(pattern, list(catalog.images), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise BadInput(f"no image matches '{pattern}'{hint} (see `colla build --list`)")
    return found


def sorter(catalog: Catalog, names: Iterable[str]) -> graphlib.TopologicalSorter[str]:
    """A prepared TopologicalSorter over ``names`` (parents outside ``names`` are ignored)."""
    chosen = set(names)
    graph = {
        name: [p] if (p := catalog[name].parent) in chosen and p is not None else []
        for name in chosen
    }
    result: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter(graph)
    result.prepare()
    return result


def waiting(catalog: Catalog, names: Iterable[str]) -> dict[str, int]:
    """How many of ``names`` wait below each of them in the tree: its rank in a build.

    A parallel build starts the most waited-on of the images ready at once first, so that
    nova-base, with five images below it, no longer starts after four leaves that happen
    to sort before it (the tree then ended on nova-compute's build alone).
    """
    chosen = set(names)
    return {name: len(catalog.descendants(name) & chosen) for name in chosen}


def order(catalog: Catalog, names: Iterable[str]) -> list[str]:
    """``names`` parents-first; siblings in name order, so the output is stable."""
    ts = sorter(catalog, names)
    result: list[str] = []
    while ts.is_active():
        ready = sorted(ts.get_ready())
        result.extend(ready)
        ts.done(*ready)
    return result


def tree_lines(catalog: Catalog, names: Iterable[str] | None = None) -> list[str]:
    """The tree as indented lines, for ``colla build --list``."""
    check_acyclic(catalog)
    shown = set(names) if names is not None else set(catalog.images)
    lines: list[str] = []

    def walk(name: str, depth: int) -> None:
        image = catalog[name]
        lines.append(f"{'  ' * depth}{name}  ({image.description})" if image.description else name)
        for child in catalog.children(name):
            if child in shown:
                walk(child, depth + 1)

    for root in sorted(
        n for n in shown if catalog[n].parent is None or catalog[n].parent not in shown
    ):
        walk(root, 0)
    return lines
