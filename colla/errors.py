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
    DEPLOY_FAILED = 5
    PRECHECK_FAILED = 6


class CollaError(Exception):
    """A failure with a message meant for an operator, shown without a traceback.

    ``details`` are extra lines (a container's last log lines, say) shown under it.
    """

    exit_status = ExitStatus.ERROR

    def __init__(self, message: str, details: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.details = details


class BadInput(CollaError):
    """The operator's input (a file, a key, an argument) is wrong; nothing was changed."""

    exit_status = ExitStatus.BAD_INPUT


class EngineError(CollaError):
    """The Docker engine refused or failed a request, or does not answer."""

    exit_status = ExitStatus.ENGINE


class DeployFailed(CollaError):
    """A container or a bootstrap step failed while applying a plan."""

    exit_status = ExitStatus.DEPLOY_FAILED


class BuildFailed(CollaError):
    """One or more images failed to build."""

    exit_status = ExitStatus.BUILD_FAILED
