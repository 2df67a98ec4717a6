"""Notebooks inlined into a definition, so the server never needs the pusher's files.

A ``notebook`` step names its ``.ipynb`` by ``path`` (relative to the workflow file); the
loader reads it, checks it is a Jupyter notebook (nbformat 4) and stores it in the step as
``notebook:``, without the outputs and execution counts of its last run: a stored version
holds code, not results, and the same notebook always stores the same text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

NOT_A_NOTEBOOK = "is not a Jupyter notebook"
NOTEBOOK_NOT_HERE = (
    "path: the notebook cannot be read here; push from the CLI, which inlines notebooks"
)


def read_notebook(path: str, base_dir: Path | None) -> tuple[dict[str, Any], str | None]:
    """The notebook at ``base_dir / path`` as stored in a definition, or why it cannot be."""
    if base_dir is None:
        return {}, NOTEBOOK_NOT_HERE
    file = base_dir / path
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, f"notebook {path!r} not found (looked for {file})"
    except UnicodeDecodeError:
        return {}, f"notebook {path!r} {NOT_A_NOTEBOOK}: it is not UTF-8 text"
    except OSError as exc:
        return {}, f"notebook {path!r} cannot be read: {exc.strerror or exc}"
    try:
        data = json.loads(text)
    except ValueError as exc:
        return {}, f"notebook {path!r} {NOT_A_NOTEBOOK}: it is not JSON ({exc})"
    return normalized_notebook(data, f"notebook {path!r}")


def normalized_notebook(data: Any, what: str = "notebook") -> tuple[dict[str, Any], str | None]:
    """``data`` checked against the nbformat schema, upgraded to version 4, with its cells'
    outputs and execution counts dropped and their sources as single strings."""
    import nbformat
    from nbformat.validator import ValidationError

    if not isinstance(data, dict) or not isinstance(data.get("cells", []), list):
        return {}, f"{what} {NOT_A_NOTEBOOK}: expected a JSON object with 'cells'"
    if "nbformat" not in data:
        return {}, f"{what} {NOT_A_NOTEBOOK}: it has no 'nbformat' version"
    try:
        node = nbformat.reads(json.dumps(data), as_version=4)  # type: ignore[no-untyped-call]
        nbformat.validate(node)
    except (ValidationError, ValueError, KeyError, TypeError, AttributeError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return {}, f"{what} {NOT_A_NOTEBOOK}: {first_line}"
    for cell in node.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    cleaned: dict[str, Any] = json.loads(json.dumps(node))
    return cleaned, None
