"""run_in_order: dependencies first, skips, and stopping after a failure."""

from __future__ import annotations

import graphlib
import threading

from colla.ordered import run_in_order

GRAPH = {"a": set(), "b": {"a"}, "c": {"a"}, "d": {"b", "c"}, "e": set()}


def _sorter() -> graphlib.TopologicalSorter[str]:
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter(GRAPH)
    sorter.prepare()
    return sorter


def test_every_item_runs_after_its_predecessors() -> None:
    done: list[str] = []
    lock = threading.Lock()

    def job(name: str) -> str:
        with lock:
            assert all(p in done for p in GRAPH[name])
        return name

    def report(name: str, result: str) -> bool:
        done.append(result)
        return True

    run_in_order(_sorter(), job, 2, lambda _: False, report)
    assert sorted(done) == ["a", "b", "c", "d", "e"]


def test_skipped_items_do_not_run_but_release_their_successors() -> None:
    ran: list[str] = []
    run_in_order(_sorter(), ran.append, 2, lambda n: n == "b", lambda n, r: True)
    assert sorted(n for n in ran) == ["a", "c", "d", "e"]


def test_a_failed_report_stops_new_work() -> None:
    ran: list[str] = []

    def report(name: str, result: None) -> bool:
        return name != "a"

    run_in_order(_sorter(), ran.append, 1, lambda _: False, report)
    assert "d" not in ran and "b" not in ran and "c" not in ran


def test_of_the_names_ready_together_the_higher_ranked_start_first() -> None:
    ran: list[str] = []
    rank = {"c": 1}.get
    run_in_order(_sorter(), ran.append, 1, lambda _: False, lambda n, r: True, lambda n: rank(n, 0))
    # a and e are ready together (name order); then b and c, where c outranks b.
    assert ran == ["a", "e", "c", "b", "d"]
