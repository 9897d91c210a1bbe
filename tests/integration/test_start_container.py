"""colla-start inside a real container: files, owners, modes, the service user, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from colla.engine import Engine
from colla.images.builder import ImageResult
from tests.integration.conftest import TEST_CONFIG

pytestmark = pytest.mark.docker

# colla-start is in the images nothing builds on (not in base): a small one of those.
START_IMAGE = TEST_CONFIG.ref("memcached")


def _config_dir(tmp_path: Path, config: object) -> Path:
    directory = tmp_path / "config"
    directory.mkdir()
    (directory / "config.json").write_text(
        config if isinstance(config, str) else json.dumps(config)
    )
    (directory / "glance-api.conf").write_text("[DEFAULT]\nbind_port = 9292\n")
    return directory


def test_installs_files_and_execs_as_the_service_user(
    engine: Engine, core_images: list[ImageResult], tmp_path: Path
) -> None:
    config = {
        "command": [
            "sh",
            "-c",
            "stat -c '%U:%G %a' /etc/glance/glance-api.conf; id -un; ps -o pid= -p $$",
        ],
        "config_files": [
            {
                "source": "/var/lib/colla/config/glance-api.conf",
                "dest": "/etc/glance/glance-api.conf",
                "owner": "glance",
                "perm": "0640",
            },
            {
                "source": "/var/lib/colla/config/absent.conf",
                "dest": "/etc/glance/absent.conf",
                "owner": "glance",
                "perm": "0640",
                "optional": True,
            },
        ],
        "permissions": [
            {"path": "/var/lib/glance/images", "owner": "glance:glance", "perm": "0750"}
        ],
    }
    directory = _config_dir(tmp_path, config)
    result = engine.run(
        TEST_CONFIG.ref("glance-api"), binds={str(directory): "/var/lib/colla/config:ro"}
    )
    assert result.exit_code == 0, result.output
    lines = result.output.split()
    assert lines[:3] == ["glance:glance", "640", "glance"]
    assert lines[3] == "1"  # exec'd: the command replaced colla-start as PID 1


def test_bad_config_stops_the_container_with_one_line(
    engine: Engine, core_images: list[ImageResult], tmp_path: Path
) -> None:
    directory = _config_dir(tmp_path, '{"command": ')
    result = engine.run(START_IMAGE, binds={str(directory): "/var/lib/colla/config:ro"})
    assert result.exit_code == 78
    assert result.output.strip().splitlines() == [
        "colla-start: /var/lib/colla/config/config.json: malformed JSON at line 1 column 13"
    ]


def test_missing_source_and_missing_config_fail(
    engine: Engine, core_images: list[ImageResult], tmp_path: Path
) -> None:
    config = {
        "command": "true",
        "config_files": [
            {
                "source": "/var/lib/colla/config/nope.conf",
                "dest": "/x",
                "owner": "root",
                "perm": "0600",
            }
        ],
    }
    directory = _config_dir(tmp_path, config)
    result = engine.run(START_IMAGE, binds={str(directory): "/var/lib/colla/config:ro"})
    assert result.exit_code == 78
    assert "nope.conf is missing (not optional)" in result.output
    bare = engine.run(START_IMAGE)
    assert bare.exit_code == 78
    assert "config.json is missing" in bare.output


def test_wait_for_waits_until_a_port_answers(
    engine: Engine, core_images: list[ImageResult]
) -> None:
    # Nothing listens on this port yet; a listener started in the same container answers.
    script = (
        "python3 -c 'import socket,time; s=socket.socket(); "
        's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", 47611)); '
        "time.sleep(3); s.listen(); time.sleep(10)' & colla-start wait-for tcp 127.0.0.1:47611"
    )
    result = engine.run(START_IMAGE, ["sh", "-c", script])
    assert result.exit_code == 0, result.output
    assert "127.0.0.1:47611 answers" in result.output
    bad = engine.run(START_IMAGE, ["colla-start", "wait-for", "udp", "x"])
    assert bad.exit_code == 78 and "usage: colla-start wait-for" in bad.output
