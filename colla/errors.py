"""The errors colla raises for humans: each carries one line and an exit status."""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    """Process exit codes, stable for scripts that call colla."""

    OK = 0
    ERROR = 1
    BAD_INPUT = 2
    ENGINE = 3
    BUILD_FAILED = 4


class CollaError(Exception):
    """A failure with a message meant for an operator, shown without a traceback."""

    exit_status = ExitStatus.ERROR


class BadInput(CollaError):
    """The operator's input (a file, a key, an argument) is wrong; nothing was changed."""

    exit_status = ExitStatus.BAD_INPUT


class EngineError(CollaError):
    """The Docker engine refused or failed a request, or does not answer."""

    exit_status = ExitStatus.ENGINE


class BuildFailed(CollaError):
    """One or more images failed to build."""

    exit_status = ExitStatus.BUILD_FAILED
