"""What a container is granted beyond Docker's defaults: one model for the catalog's
declaration, the spec, the engine's request, what inspect shows, and the exports.

Only what the catalog can declare is here. What else an engine reports of a running
container (its network mode, ``--privileged``, binds and volumes, user, other
namespaces, sysctls, device cgroup rules, image) lives in the engine's observed wrapper
(:class:`colla.engine.Grants`), which *contains* a ``Privileges``. Two reasons: every
field of this class is in every spec's hash (``ContainerSpec.public``), so a field added
here for the observed side would change every hash and recreate every container; and
most of those facts are not grants colla can declare (binds, volumes and the image come
from other parts of the spec, the rest colla never grants), so a declaration that
carried them would be a shape with fields nobody may set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Privileges:
    """Everything beyond Docker's defaults a container is granted, and why.

    The order of the fields and of the values in them is part of every spec hash: the
    declared side keeps the catalog's order; compare two with :meth:`words`, not ``==``.
    """

    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    security_opt: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()  # host paths, mapped to the same path inside
    # A namespace shared with the host ("host") or another container ("container:<id>");
    # None: the container's own.
    pid_mode: str | None = None
    ipc_mode: str | None = None
    init: bool = False
    reason: str = ""

    def granted(self) -> list[str]:
        """Human-readable grants, empty when the container gets Docker's defaults only."""
        grants = [f"cap_add {c}" for c in sorted(self.cap_add)]
        grants += [f"security_opt {o}" for o in sorted(self.security_opt)]
        grants += [f"device {d}" for d in sorted(self.devices)]
        grants += [f"{k} {v}" for k, v in (("pid", self.pid_mode), ("ipc", self.ipc_mode)) if v]
        return grants

    def words(self) -> frozenset[str]:
        """Every grant in words, order left out: two Privileges are the same grants when
        these are equal (the reason is not a grant)."""
        words = {*self.granted(), *(f"cap_drop {c}" for c in self.cap_drop)}
        return frozenset(words | ({"init"} if self.init else set()))

    def to_json(self) -> dict[str, Any]:
        """JSON-ready data, in field order (specs hash it: see the class docstring)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in vars(self).items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Privileges:
        """Rebuild what :meth:`to_json` (or ``dataclasses.asdict``) wrote; JSON turned
        the tuples into lists."""
        fixed: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**fixed)
