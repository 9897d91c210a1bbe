"""Images to a node without a registry: ``docker save`` here, streamed into ``docker load``
there, chunk by chunk (no temporary file, nothing whole in memory)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from colla.engine import Engine
from colla.errors import BadInput


@dataclass(frozen=True)
class Sent:
    """One image's transfer: skipped when the node had the same image already."""

    ref: str
    image_id: str
    bytes: int
    seconds: float
    skipped: bool


def send_images(
    source: Engine, target: Engine, refs: Iterable[str], say: Callable[[str], None]
) -> list[Sent]:
    """Copy each of ``refs`` from ``source`` to ``target`` unless it has that image ID."""
    results = []
    for ref in sorted(set(refs)):
        info = source.image(ref)
        if info is None:
            raise BadInput(f"image {ref} is not on this machine's engine: build it first")
        there = target.image(ref)
        if there is not None and there.id == info.id:
            results.append(Sent(ref, info.id, 0, 0.0, True))
            continue
        started = time.monotonic()
        counted = _Counter(source.save_image(ref))
        target.load_image(counted)
        seconds = time.monotonic() - started
        say(f"{ref}: {counted.total / 1e6:.0f} MB in {seconds:.1f} s")
        results.append(Sent(ref, info.id, counted.total, seconds, False))
    return results


class _Counter:
    """Passes chunks through, counting their bytes."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self.total = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self.total += len(chunk)
            yield chunk
