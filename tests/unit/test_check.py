"""`colla check`'s selection: which names the catalog must list, which probes run."""

from __future__ import annotations

from typing import get_args

from colla.catalog import load_services
from colla.deploy import check
from colla.model.catalog import Probe


def test_every_registered_service_and_the_identity_service_must_be_listed() -> None:
    catalog = load_services()
    everything = [catalog[n] for n in sorted(catalog.services)]
    assert check.registered(everything) == {"keystone", "glance", "placement", "nova", "neutron"}
    assert check.registered([catalog["mariadb"], catalog["glance"]]) == {"glance"}


def test_every_probe_a_service_can_declare_has_code() -> None:
    assert set(get_args(Probe)) == {*check._PROBES, "dashboard"}
    catalog = load_services()
    declared = {s.probe for s in catalog.services.values()} - {None}
    assert declared == set(get_args(Probe))
