"""One exception root for everything Podium raises on purpose.

Every error carries a stable ``code`` (used by the API and the CLI) and a message
that tells the user what to do next.
"""

from __future__ import annotations

from typing import Any


class PodiumError(Exception):
    code = "podium_error"
    http_status = 500
    exit_code = 1

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InvalidInput(PodiumError):
    """Bad input from the user: a definition, a parameter, an argument."""

    code = "invalid_input"
    http_status = 400
    exit_code = 2


class InvalidDefinition(InvalidInput):
    """A workflow definition with problems; ``problems`` lists every one with its location."""

    code = "invalid_definition"

    def __init__(self, message: str, problems: list[dict[str, str]]) -> None:
        super().__init__(message, details={"problems": problems})
        self.problems = problems


class NotFound(PodiumError):
    code = "not_found"
    http_status = 404
    exit_code = 1


class WorkflowNotFound(NotFound):
    code = "workflow_not_found"


class VersionNotFound(NotFound):
    code = "version_not_found"


class InstanceNotFound(NotFound):
    code = "instance_not_found"


class StepNotFound(NotFound):
    code = "step_not_found"


class LogNotFound(NotFound):
    """The step exists but has no log: it runs no job, or it ended without running one."""

    code = "log_not_found"


class Conflict(PodiumError):
    """The request is valid but the current state does not allow it."""

    code = "conflict"
    http_status = 409
    exit_code = 1


class EngineLocked(PodiumError):
    """Another engine already runs on this SQLite database."""

    code = "engine_locked"


class Unauthenticated(PodiumError):
    """No identity, or one that no longer holds (expired, revoked, disabled)."""

    code = "unauthenticated"
    http_status = 401
    exit_code = 1


class Forbidden(PodiumError):
    """The caller is known but lacks the role the action needs; the message names it."""

    code = "forbidden"
    http_status = 403
    exit_code = 1
