"""om_enable_rabbitmq_quorum_queues: the services' RPC queues outlive a broker restart.

On by default; quorum queues live in a vhost of their own, so that switching it either
way never declares one kind of queue or exchange over the other kind of the same name
(RabbitMQ refuses that, and the services would not reconnect).
"""

from __future__ import annotations

import configparser
import json
from pathlib import Path

import pytest

from colla.catalog import load_services
from colla.project import load_project
from tests.unit.test_tls import _config, _file, _node


def _conf(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read_string(text)
    return parser


@pytest.mark.parametrize(
    ("extra", "vhost", "quorum"),
    [("", "openstack", True), ('om_enable_rabbitmq_quorum_queues: "no"\n', "/", False)],
)
def test_quorum_queues_in_their_own_vhost(
    tmp_path: Path, extra: str, vhost: str, quorum: bool
) -> None:
    node = _node(load_project(_config(tmp_path, extra, certs=False), load_services()))
    definitions = json.loads(_file(node, "rabbitmq", "definitions.json"))
    assert [v["name"] for v in definitions["vhosts"]] == [vhost]
    assert [p["vhost"] for p in definitions["permissions"]] == [vhost]
    path = "/openstack" if quorum else "/"
    for container, name in (
        ("nova_conductor", "nova.conf"),
        ("nova_compute", "nova.conf"),
        ("neutron_server", "neutron.conf"),
        ("neutron_l3_agent", "neutron.conf"),
    ):
        conf = _conf(_file(node, container, name))
        url = conf["DEFAULT"]["transport_url"]
        assert url.endswith(f":5672{path}"), (container, url)
        rabbit = conf["oslo_messaging_rabbit"] if conf.has_section("oslo_messaging_rabbit") else {}
        assert rabbit.get("rabbit_quorum_queue") == ("true" if quorum else None), container
