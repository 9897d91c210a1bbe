"""bench/deploy's reading of a deploy's progress lines and its lower bound."""

from __future__ import annotations

from bench.deploy import container_times, longest_chain, ready_times

PROGRESS = """\
[   0.4s] localhost/mariadb: create (new)
[   0.5s] localhost/rabbitmq: recreate (config file config.json changed)
[   4.4s] localhost/mariadb: serving
[   6.0s] localhost/rabbitmq: serving
[   6.1s] mariadb: ready (5.7 s)
[   7.0s] localhost/keystone-bootstrap: running bootstrap step
[   7.1s] localhost/neutron-db-sync: running bootstrap step
[  13.1s] neutron: early steps done (6.5 s)
[  19.0s] localhost/keystone: create (new)
[  24.0s] localhost/keystone: serving
[  24.1s] keystone: ready (18.0 s)
"""


def test_each_container_is_timed_from_its_create_to_serving() -> None:
    assert container_times(PROGRESS) == {
        "localhost/mariadb": 4.0,
        "localhost/rabbitmq": 5.5,
        "localhost/keystone": 5.0,
    }
    assert ready_times(PROGRESS) == {"mariadb": 5.7, "keystone": 18.0, "neutron:early": 6.5}


def test_the_bound_is_the_heaviest_chain_of_dependencies() -> None:
    weights = {"mariadb": 4.0, "rabbitmq": 5.5, "keystone": 5.0, "nova": 10.0, "horizon": 1.0}
    before = {"keystone": ["mariadb"], "nova": ["keystone", "rabbitmq"], "horizon": ["keystone"]}
    # mariadb, keystone, nova: 19; rabbitmq, nova: 15.5.
    assert longest_chain(weights, before) == 19.0
    assert longest_chain({}, before) == 0.0
