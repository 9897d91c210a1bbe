"""Running work over a dependency graph: each item once its predecessors are done."""

from __future__ import annotations

import concurrent.futures
import graphlib
from collections.abc import Callable
from typing import TypeVar

R = TypeVar("R")


def run_in_order(
    sorter: graphlib.TopologicalSorter[str],
    job: Callable[[str], R],
    workers: int,
    skip: Callable[[str], bool],
    report: Callable[[str, R], bool],
    rank: Callable[[str], int] = lambda _: 0,
) -> None:
    """Run ``job(name)`` for every name of a prepared ``sorter``, ``workers`` at a time.

    ``skip(name)`` is asked when a name becomes ready: True marks it done unrun.
    ``report(name, result)`` is told every result; False stops new work (what runs
    finishes and is reported) and leaves the name's successors unrun.
    Of the names ready at once, those of higher ``rank(name)`` start first, then in name
    order: a caller ranks by how much waits on a name, so that the long chains start early
    and the short leaves fill the gaps at the end.
    """
    stopped = False
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        running: dict[concurrent.futures.Future[R], str] = {}
        while sorter.is_active() and not stopped:
            for name in sorted(sorter.get_ready(), key=lambda n: (-rank(n), n)):
                if skip(name):
                    sorter.done(name)
                else:
                    running[pool.submit(job, name)] = name
            if not running:
                continue
            finished, _ = concurrent.futures.wait(
                running, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in finished:
                name = running.pop(future)
                if report(name, future.result()):
                    sorter.done(name)
                else:
                    stopped = True
        for future in concurrent.futures.as_completed(running):
            report(running[future], future.result())
