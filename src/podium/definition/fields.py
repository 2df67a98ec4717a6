"""Field types of the workflow model that carry their own check and their own message.

Each check raises ``PydanticCustomError`` of type ``podium`` so that the message reaches the
user as written here, without pydantic's ``Value error,`` prefix.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, PlainValidator
from pydantic_core import PydanticCustomError

from podium.definition.durations import parse_duration
from podium.timing.cron import check_cron, check_timezone

WORKFLOW_ID_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,127}")
IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
"""A step id, output or param name: at most 64 characters (it names directories, env vars)."""
MAX_DURATION_S = 366 * 86400.0
"""The longest duration a definition may write (a timeout, a sleep, a retry delay): a year."""
MAX_DURATION_TEXT = "366d"
TAG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
SIGNAL_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}")
PRINCIPAL_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}")


FIELD_ERROR = "podium"
RULES_ERROR = "podium_rules"


def rejected(message: str, kind: str = FIELD_ERROR) -> PydanticCustomError:
    """Build the error our validators raise; the message goes through a context on purpose
    so braces in user text are never read as a template."""
    return PydanticCustomError(kind, "{message}", {"message": message})


def _need_text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise rejected(f"{what} must be text, got {type(value).__name__} {value!r}")
    return value


def _workflow_id(value: Any) -> str:
    text = _need_text(value, "a workflow id")
    if not WORKFLOW_ID_RE.fullmatch(text):
        raise rejected(
            f"bad workflow id {text!r}: start with a letter, then letters, digits, '_', '.' "
            "or '-', at most 128 characters"
        )
    return text


def _identifier(value: Any) -> str:
    text = _need_text(value, "a name")
    if not IDENTIFIER_RE.fullmatch(text):
        raise rejected(
            f"bad name {text[:80]!r}: use letters, digits and '_', not starting with a digit, "
            "at most 64 characters (the name is usable in expressions)"
        )
    return text


def tag_problem(tag: str) -> str | None:
    """Why ``tag`` cannot name a concurrency tag (None if it can); the API uses it too."""
    if TAG_RE.fullmatch(tag):
        return None
    return (
        f"bad tag {tag!r}: start with a letter or digit, then letters, digits, '_', '.', ':' "
        "or '-', at most 64 characters"
    )


def _named(what: str, problem_of: Callable[[str], str | None]) -> Callable[[Any], str]:
    """A validator of names checked by ``problem_of`` (shared with the API)."""

    def validate(value: Any) -> str:
        text = _need_text(value, what)
        problem = problem_of(text)
        if problem is not None:
            raise rejected(problem)
        return text

    return validate


def signal_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a signal (None if it can); the API uses it too."""
    if SIGNAL_NAME_RE.fullmatch(name):
        return None
    return (
        f"bad signal name {name!r}: start with a letter or digit, then letters, digits, '_', "
        "'.', ':', '/' or '-', at most 200 characters"
    )


def _duration(value: Any) -> str:
    try:
        text = value if isinstance(value, str) else repr(value)
        seconds = parse_duration(value)
    except ValueError as exc:
        raise rejected(str(exc)) from None
    if not seconds <= MAX_DURATION_S:
        raise rejected(f"duration {text[:40]!r} is too long: at most {MAX_DURATION_TEXT}")
    return text


def _positive_duration(value: Any) -> str:
    text = _duration(value)
    if parse_duration(text) <= 0:
        raise rejected(f"duration {text!r} must be longer than zero")
    return text


def _cron(value: Any) -> str:
    text = _need_text(value, "a cron expression")
    problem = check_cron(text)
    if problem is not None:
        raise rejected(problem)
    return text


def _timezone(value: Any) -> str:
    text = _need_text(value, "a time zone")
    problem = check_timezone(text)
    if problem is not None:
        raise rejected(problem)
    return text


def _version(value: Any) -> int | str:
    if value in ("active", "latest"):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise rejected(f"bad version {value!r}: use 'active', 'latest' or a version number (1, 2, …)")


def _positive_number(value: Any) -> float:
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if not is_number or not math.isfinite(value) or value <= 0:
        raise rejected(f"expected a number of seconds greater than zero, got {value!r}")
    if value > MAX_DURATION_S:
        raise rejected(f"at most {MAX_DURATION_S:.0f} seconds ({MAX_DURATION_TEXT}), got {value!r}")
    return value  # type: ignore[no-any-return]  # an int stays an int, so 5 is written as 5


WorkflowId = Annotated[str, BeforeValidator(_workflow_id)]
Identifier = Annotated[str, BeforeValidator(_identifier)]
TagName = Annotated[str, BeforeValidator(_named("a tag", tag_problem))]
SignalName = Annotated[str, BeforeValidator(_named("a signal name", signal_name_problem))]
Duration = Annotated[str, BeforeValidator(_duration)]
PositiveDuration = Annotated[str, BeforeValidator(_positive_duration)]
CronExpression = Annotated[str, BeforeValidator(_cron)]
TimeZoneName = Annotated[str, BeforeValidator(_timezone)]
VersionSelector = Annotated[int | str, PlainValidator(_version)]
PositiveSeconds = Annotated[
    float, PlainValidator(_positive_number), PlainSerializer(lambda value: value)
]


def seconds_of(duration: str | None) -> float | None:
    """The seconds of a validated duration, or ``None`` when it is unset."""
    return None if duration is None else parse_duration(duration)


class StrictModel(BaseModel):
    """The base of every model of the definition: unknown keys refused, values not coerced."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        strict=True,
        validate_by_name=True,
        validate_by_alias=True,
    )


def principal_name_problem(name: object, what: str = "a user name") -> str | None:
    """Why ``name`` cannot name a user, service account or group (owner:, access:), or None."""
    if not isinstance(name, str) or not PRINCIPAL_NAME_RE.fullmatch(name):
        return (
            f"{what} must be 1 to 128 letters, digits and _ . @ - starting with a letter or "
            f"digit, not {name!r}"
        )
    return None


def _principal_name(value: Any) -> str:
    problem = principal_name_problem(value)
    if problem is not None:
        raise rejected(problem)
    return str(value)


PrincipalName = Annotated[str, BeforeValidator(_principal_name)]
