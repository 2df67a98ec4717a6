"""One problem found in a workflow definition, and how its location is spelled.

A location is the path a person would follow in the file: ``steps[2].depends_on``,
``trigger.cron``, ``steps[1].foreach.steps[0].id``; ``(root)`` is the document itself and
``line N`` a place the YAML parser could not get past.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

ROOT = "(root)"

Loc = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class Problem:
    location: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """The shape the API and ``InvalidDefinition`` carry."""
        return {"location": self.location, "message": self.message}

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


def format_location(loc: Sequence[str | int]) -> str:
    """Spell a path the way the docs do: ``steps[3].depends_on``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or ROOT


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return `` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _natural_key(problem: Problem) -> tuple[tuple[int, str | int], ...]:
    parts = re.split(r"(\d+)", problem.location)
    return tuple((1, int(p)) if p.isdigit() else (0, p) for p in parts)


def sorted_unique(problems: Iterable[Problem]) -> list[Problem]:
    """Drop repeats and order by location, ``steps[10]`` after ``steps[9]``."""
    unique = dict.fromkeys(problems)
    return sorted(unique, key=lambda p: (_natural_key(p), p.message))
