"""Choosing and ordering images: filters, profiles, ancestors, cycles."""

from __future__ import annotations

from pathlib import Path

import pytest

from colla.errors import BadInput
from colla.images import graph
from colla.images.catalog import load_catalog
from tests.unit.conftest import CatalogFactory


def test_order_puts_parents_first_and_is_stable(tree: Path) -> None:
    catalog = load_catalog(tree)
    assert graph.order(catalog, catalog.images) == [
        "base",
        "mariadb",
        "openstack-base",
        "glance-api",
        "keystone",
    ]


def test_filter_selects_matches_and_their_ancestors(tree: Path) -> None:
    catalog = load_catalog(tree)
    assert graph.select(catalog, ["keystone"]) == {"base", "openstack-base", "keystone"}
    assert graph.select(catalog, ["^mariadb$"]) == {"base", "mariadb"}


def test_no_filter_selects_everything(tree: Path) -> None:
    catalog = load_catalog(tree)
    assert graph.select(catalog, []) == set(catalog.images)


def test_profiles(tree: Path) -> None:
    catalog = load_catalog(tree)
    assert graph.select(catalog, [], "infra") == {"base", "mariadb"}
    assert graph.select(catalog, [], "core") == set(catalog.images)
    assert graph.select(catalog, ["glance"], "infra") == {
        "base",
        "mariadb",
        "openstack-base",
        "glance-api",
    }


def test_unknown_filter_suggests_close_matches(tree: Path) -> None:
    catalog = load_catalog(tree)
    with pytest.raises(BadInput, match="no image matches 'kestone'; did you mean keystone"):
        graph.select(catalog, ["kestone"])


def test_invalid_regex_is_bad_input(tree: Path) -> None:
    with pytest.raises(BadInput, match="not a valid regular expression"):
        graph.select(load_catalog(tree), ["key("])


def test_unknown_profile(tree: Path) -> None:
    with pytest.raises(BadInput, match="unknown profile 'big'; known profiles: core, infra"):
        graph.select(load_catalog(tree), [], "big")


def test_cycle_is_named(make_catalog: CatalogFactory) -> None:
    root = make_catalog({"a": ("c", []), "b": ("a", []), "c": ("b", []), "d": (None, [])})
    with pytest.raises(BadInput, match=r"cycle: (a|b|c) → (a|b|c) → (a|b|c) → (a|b|c)"):
        graph.select(load_catalog(root), [])


def test_unknown_parent_is_bad_input(make_catalog: CatalogFactory) -> None:
    root = make_catalog({"a": ("nope", [])})
    with pytest.raises(BadInput, match="image 'a' has unknown parent 'nope'"):
        load_catalog(root)


def test_descendants_and_tree(tree: Path) -> None:
    catalog = load_catalog(tree)
    assert catalog.descendants("openstack-base") == {"keystone", "glance-api"}
    assert graph.tree_lines(catalog) == [
        "base  (the base)",
        "  mariadb  (the mariadb)",
        "  openstack-base  (the openstack-base)",
        "    glance-api  (the glance-api)",
        "    keystone  (the keystone)",
    ]


def test_an_image_ranks_by_the_images_of_the_build_below_it(tree: Path) -> None:
    catalog = load_catalog(tree)
    assert graph.waiting(catalog, catalog.images) == {
        "base": 4, "mariadb": 0, "openstack-base": 2, "glance-api": 0, "keystone": 0,
    }  # fmt: skip
    # Images outside the build do not count.
    assert graph.waiting(catalog, ["base", "openstack-base", "keystone"])["base"] == 2


def test_nova_base_starts_before_the_leaves_ready_beside_it() -> None:
    catalog = load_catalog()
    rank = graph.waiting(catalog, graph.select(catalog, [], "core"))
    assert rank["nova-base"] == 5 and rank["neutron-base"] == 5
    assert rank["client"] == rank["glance-api"] == 0


def test_shipped_catalog_is_consistent() -> None:
    catalog = load_catalog()
    names = graph.order(catalog, graph.select(catalog, [], "core"))
    assert names[0] == "base"
    assert {"keystone", "glance-api", "placement-api", "client", "mariadb"} <= set(names)
