"""The container keys of a step: ``container:`` (the image a script runs in) and ``resources:``,
and the hardening a container may ask for (``read_only``, ``network``).

Kept apart from :mod:`podium.definition.model` because their checks (memory units, Docker's
minimum) concern containers only; the model just holds them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator

from podium.definition.fields import StrictModel as _Model
from podium.definition.fields import rejected

MAX_CPU = 1024.0
MIN_MEMORY_BYTES = 6 * 1024 * 1024
"""Docker refuses a memory limit below 6 MiB."""
MEMORY_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([kKmMgG]?)[bB]?")
MEMORY_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
NETWORK_MODES = ("bridge", "none")
"""``network:`` of a container: Docker's default bridge, or no network at all."""
NetworkMode = Literal["bridge", "none"]


class Resources(_Model):
    """Limits of a container job: ``cpu`` in cores (``1.5``), ``memory`` in bytes or with a
    unit (``512m``, ``2g``)."""

    cpu: float | int | None = None
    memory: int | str | None = None

    @field_validator("cpu", mode="before")
    @classmethod
    def _positive_cpu(cls, value: Any) -> Any:
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 < value <= MAX_CPU
        ):
            raise rejected(
                f"bad cpu {value!r}: give a number of cores greater than 0 and at most "
                f"{MAX_CPU:g}, such as 0.5 or 2"
            )
        return value

    @field_validator("memory", mode="before")
    @classmethod
    def _memory_with_unit(cls, value: Any) -> Any:
        if value is not None and memory_bytes(value) is None:
            raise rejected(
                f"bad memory {value!r}: give bytes or a number with a unit k, m or g, at least "
                "6m (Docker's minimum), such as 512m or 2g"
            )
        return value

    @property
    def nano_cpus(self) -> int | None:
        return None if self.cpu is None else int(self.cpu * 1e9)

    @property
    def memory_bytes(self) -> int | None:
        return None if self.memory is None else memory_bytes(self.memory)


def memory_bytes(value: object) -> int | None:
    """Bytes of a memory limit (``512m``, ``2g``, ``1048576``); None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        size = value
    elif isinstance(value, str) and (found := MEMORY_RE.fullmatch(value.strip())):
        size = int(float(found[1]) * MEMORY_UNITS[found[2].lower()])
    else:
        return None
    return size if size >= MIN_MEMORY_BYTES else None


def check_read_only(value: Any) -> Any:
    """``read_only`` is true or false."""
    if value is not None and not isinstance(value, bool):
        raise rejected(
            f"bad read_only {value!r}: give true (a read-only root filesystem; /podium and "
            "/tmp stay writable) or false"
        )
    return value


def check_network(value: Any) -> Any:
    """``network`` is ``none`` or ``bridge``."""
    if value is not None and value not in NETWORK_MODES:
        raise rejected(
            f"bad network {value!r}: give 'none' (no network at all) or 'bridge' (Docker's "
            "default network, the default)"
        )
    return value


ReadOnly = Annotated[bool | None, BeforeValidator(check_read_only)]
"""``read_only:`` of a container (``container:`` beside a script, or a ``container`` step)."""
Network = Annotated[NetworkMode | None, BeforeValidator(check_network)]
"""``network:`` of a container (``container:`` beside a script, or a ``container`` step)."""


class ContainerOptions(_Model):
    """``container:`` beside ``type: script`` or ``python``: the image the script runs in."""

    image: str = Field(min_length=1)
    env: dict[str, str] | None = None
    read_only: ReadOnly = None
    """A read-only root filesystem (the attempt's ``/podium`` and a ``/tmp`` stay writable)."""
    network: Network = None
    """``none`` cuts the container off the network; ``bridge`` (the default) is Docker's."""
