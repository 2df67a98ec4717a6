"""A step's ``assets:``: the names of files its job receives, and the files ``podium push``
uploads as assets first.

A stored version names assets only (``assets: [db-password]``): the server never reads the
pusher's files (decision 11). A definition file may instead give ``{name: N, file: PATH}``
(PATH relative to the workflow file); the CLI stores the file as asset N, then pushes the
definition with N alone.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator

from podium.definition.fields import rejected
from podium.definition.problems import Loc, Problem, format_location
from podium.definition.walk import map_steps
from podium.definition.yaml_text import load_yaml

ASSET_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")

MAX_ASSET_BYTES = 16 * 1024 * 1024 - 64 * 1024
"""16 MiB less 64 KiB: an asset, sealed, still fits in one request of the default limit."""

FILE_ENTRY_NOT_HERE = (
    "an asset given as {name, file} is uploaded by the CLI: push with podium push, which "
    "stores the file first, or store it yourself (podium asset put NAME FILE) and list NAME"
)
_NO_ASSETS = ("noop", "sleep")


def asset_name_problem(name: object) -> str | None:
    """Why ``name`` cannot name an asset (None if it can); the API uses it too."""
    if isinstance(name, str) and ASSET_NAME_RE.fullmatch(name):
        return None
    return (
        f"bad asset name {name!r}: start with a letter or digit, then letters, digits, '_', '.' "
        "or '-', at most 128 characters (it is the file's name in $PODIUM_ASSETS)"
    )


def _asset_name(value: Any) -> str:
    problem = asset_name_problem(value)
    if problem is not None:
        raise rejected(problem)
    return str(value)


AssetName = Annotated[str, BeforeValidator(_asset_name)]


def asset_size_problem(name: str, size: int) -> str | None:
    if size <= MAX_ASSET_BYTES:
        return None
    return (
        f"asset {name!r} is {size} bytes; an asset is at most {MAX_ASSET_BYTES} bytes "
        "(16 MiB less 64 KiB): ship larger files in an image or a store the job reads"
    )


def asset_rules(step: Mapping[str, Any], loc: Loc) -> list[Problem]:
    """Only a step that runs a job receives assets, each named once."""
    entries = step.get("assets")
    if entries is None:
        return []
    where = format_location((*loc, "assets"))
    step_type = step.get("type")
    refusal = None
    if step.get("foreach") is not None:
        refusal = "a foreach step: list them on the steps inside it"
    elif step.get("subworkflow") is not None:
        refusal = "a subworkflow step: list them on the steps of the workflow it starts"
    elif step_type in _NO_ASSETS:
        refusal = f"a {step_type!r} step, which runs nothing"
    if refusal is not None and entries:
        message = (
            "only a step that runs a job (script, python, notebook, container or a template) "
            f"receives assets; this is {refusal}"
        )
        return [Problem(where, message)]
    if not isinstance(entries, list):
        return []
    problems: list[Problem] = []
    first: dict[str, int] = {}
    for index, entry in enumerate(entries):
        name = entry.get("name") if isinstance(entry, Mapping) else entry
        if not isinstance(name, str):
            continue
        if name in first:
            at = format_location((*loc, "assets", first[name]))
            message = f"asset {name!r} is listed twice (first at {at})"
            problems.append(Problem(format_location((*loc, "assets", index)), message))
        else:
            first[name] = index
    return problems


@dataclass(frozen=True)
class AssetFile:
    """A file a definition ships as an asset: ``podium push`` stores it before pushing."""

    name: str
    path: Path
    location: str
    """Where the definition names it: ``steps[1].assets[0]``."""


def resolve_asset_files(
    data: Mapping[str, Any], base_dir: Path | None
) -> tuple[Any, list[AssetFile], list[Problem]]:
    """``data`` with every ``{name, file}`` asset entry replaced by its name, the files those
    entries name (checked readable and small enough), and the problems found.

    Without ``base_dir`` (a definition sent to the server) such an entry is a problem.
    """
    files: list[AssetFile] = []
    problems: list[Problem] = []
    if "steps" not in data:
        return data, files, problems
    new = dict(data)
    new["steps"] = _steps(data["steps"], ("steps",), base_dir, files, problems)
    problems += _same_name_same_file(files)
    return new, files, problems


def shipped_asset_files(text: str, base_dir: Path) -> list[AssetFile]:
    """The files a definition's text ships as assets, resolved against ``base_dir`` (the
    workflow file's directory); only those that can be read (the loader reports the rest)."""
    data, _ = load_yaml(text)
    if not isinstance(data, Mapping):
        return []
    _, files, _ = resolve_asset_files(data, base_dir)
    return files


def _steps(
    steps: Any,
    loc: Loc,
    base_dir: Path | None,
    files: list[AssetFile],
    problems: list[Problem],
) -> Any:
    def ship(step: dict[str, Any], at: Loc) -> None:
        if isinstance(step.get("assets"), list):
            step["assets"] = [
                _entry(entry, (*at, "assets", position), base_dir, files, problems)
                for position, entry in enumerate(step["assets"])
            ]

    return map_steps(steps, loc, ship)


def _entry(
    entry: Any,
    loc: Loc,
    base_dir: Path | None,
    files: list[AssetFile],
    problems: list[Problem],
) -> Any:
    if not isinstance(entry, Mapping):
        return entry  # a name: the model checks it
    where = format_location(loc)
    name, file = entry.get("name"), entry.get("file")
    extra = sorted(str(k) for k in entry if k not in ("name", "file"))
    if extra or not isinstance(name, str) or not isinstance(file, str):
        message = (
            "an asset is its name, or {name: NAME, file: PATH} (PATH relative to the workflow "
            "file)" + (f"; unknown key {extra[0]!r}" if extra else "")
        )
        problems.append(Problem(where, message))
        return name if isinstance(name, str) else entry
    if base_dir is None:
        problems.append(Problem(where, FILE_ENTRY_NOT_HERE))
        return name
    path = base_dir / file
    problem = _file_problem(name, file, path)
    if problem is not None:
        problems.append(Problem(f"{where}.file", problem))
    else:
        files.append(AssetFile(name, path, where))
    return name


def _file_problem(name: str, file: str, path: Path) -> str | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return f"asset file {file!r} not found (looked for {path})"
    except OSError as exc:
        return f"asset file {file!r} cannot be read: {exc.strerror or exc}"
    if not stat.S_ISREG(st.st_mode):
        return f"asset file {file!r} is not a regular file"
    if not os.access(path, os.R_OK):
        return f"asset file {file!r} cannot be read: permission denied"
    return asset_size_problem(name, st.st_size)


def _same_name_same_file(files: list[AssetFile]) -> list[Problem]:
    first: dict[str, AssetFile] = {}
    problems: list[Problem] = []
    for found in files:
        seen = first.setdefault(found.name, found)
        if seen.path.resolve() != found.path.resolve():
            message = (
                f"asset {found.name!r} is given another file at {seen.location} ({seen.path}): "
                "one name, one file"
            )
            problems.append(Problem(found.location, message))
    return problems
