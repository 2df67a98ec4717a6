"""Durations as people write them in workflow files: ``30s``, ``10m``, ``6h``, ``1d``, ``1h30m``.

Bare numbers are refused on purpose: ``timeout: 30`` could mean seconds or minutes, and a wrong
guess fails silently hours later.
"""

from __future__ import annotations

import re

DURATION_FORMAT = (
    "a duration is a number followed by a unit, s m h or d (largest unit first), "
    "like 30s, 10m, 1.5h, 1d or 1h30m"
)

_NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
_DURATION_RE = re.compile(rf"(?:{_NUMBER}d)?(?:{_NUMBER}h)?(?:{_NUMBER}m)?(?:{_NUMBER}s)?")
_UNIT_SECONDS = (86400.0, 3600.0, 60.0, 1.0)


def parse_duration(text: str) -> float:
    """Return the number of seconds ``text`` stands for; ``ValueError`` says the format."""
    match = _DURATION_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None or not text:
        raise ValueError(f"bad duration {text!r}: {DURATION_FORMAT}")
    return sum(
        float(part) * unit
        for part, unit in zip(match.groups(), _UNIT_SECONDS, strict=True)
        if part is not None
    )
