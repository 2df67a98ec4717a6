"""The process of a ``notebook`` step: ``python -m podium.jobs.notebook ATTEMPT_DIR``.

It runs under the same shim as a script, so pid, exit status, timeout and cancellation work
the same; what differs is inside: Papermill executes the notebook stored in the step on a
``python3`` kernel, with the step's params and ``parameters`` injected into the cell tagged
``parameters``. Cell outputs are written to the log as they come, the executed notebook is
saved among the attempt's artifacts after every cell, and a failing cell leaves its number,
source and exception in the attempt's error file, which becomes the step's error.
"""

from __future__ import annotations

import json
import keyword
import logging
import os
import re
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from podium.jobs.layout import (
    ARTIFACTS_DIR,
    ERROR_FILE,
    IO_DIR,
    JOB_CONFIG_FILE,
    PARAMS_FILE,
    WORK_DIR,
)

KERNEL_NAME = "python3"
KERNEL_START_TIMEOUT_S = 60.0
"""How long the kernel gets to start and answer before the step fails."""
INPUT_NOTEBOOK = f"{IO_DIR}/notebook.ipynb"
"""The notebook as stored in the step, written by the job (among its own files) before it runs."""
SOURCE_EXCERPT_LINES = 3
SOURCE_EXCERPT_CHARS = 120
USER_ERROR_EXIT = 1
_CELL_HEADER = re.compile(r"Executing Cell (\d+)-*$")
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_PAPERMILL_CELL_TAGS = frozenset({"injected-parameters", "papermill-error-cell-tag"})


class NotebookFailed(Exception):
    """The notebook could not run to its end; the message is the step's error."""


def main(argv: Sequence[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m podium.jobs.notebook ATTEMPT_DIR", file=sys.stderr)
        return 2
    attempt_dir = Path(argv[1])
    try:
        run_notebook(attempt_dir)
    except NotebookFailed as exc:
        message = str(exc)
        print(f"podium: {message}", file=sys.stderr, flush=True)
        _write_error(attempt_dir, message)
        return USER_ERROR_EXIT
    return 0


def run_notebook(attempt_dir: Path) -> Path:
    """Execute the step's notebook; the path of the executed notebook (also on failure)."""
    config = _read_json(attempt_dir / JOB_CONFIG_FILE)
    step_params = _read_json(attempt_dir / PARAMS_FILE)
    notebook = config.get("notebook")
    if not isinstance(notebook, dict):
        raise NotebookFailed("the step holds no notebook: push it again from the CLI")
    input_path = attempt_dir / INPUT_NOTEBOOK
    input_path.write_text(json.dumps(notebook), encoding="utf-8")
    output_path = attempt_dir / ARTIFACTS_DIR / notebook_file_name(config.get("path"))
    cell_timeout = config.get("cell_timeout")
    _prepare_jupyter_environment(attempt_dir)
    parameters = notebook_parameters(step_params, config.get("parameters") or {})
    _stream_papermill_log(sys.stdout, _injected_index(notebook) if parameters else None)

    import papermill
    from papermill.exceptions import PapermillExecutionError

    try:
        papermill.execute_notebook(
            str(input_path),
            str(output_path),
            parameters=parameters,
            kernel_name=KERNEL_NAME,
            language="python",
            progress_bar=False,
            log_output=True,
            start_timeout=KERNEL_START_TIMEOUT_S,
            execution_timeout=_seconds(cell_timeout),
            cwd=str(attempt_dir / WORK_DIR),
        )
    except PapermillExecutionError as exc:
        print(strip_ansi("\n".join(exc.traceback)), file=sys.stdout, flush=True)
        raise NotebookFailed(cell_failure(output_path, exc.ename, exc.evalue, exc.source)) from exc
    except Exception as exc:  # the kernel died, did not start, or a cell timed out
        traceback.print_exc()
        raise NotebookFailed(_run_failure(exc, cell_timeout)) from exc
    return output_path


def notebook_parameters(
    step_params: Mapping[str, Any], parameters: Mapping[str, Any]
) -> dict[str, Any]:
    """What is injected: the step's resolved params whose names are Python names, then the
    step's ``parameters``, which win (they are written for this notebook)."""
    injected = {
        name: value
        for name, value in step_params.items()
        if name.isidentifier() and not keyword.iskeyword(name)
    }
    injected.update(parameters)
    return injected


def notebook_file_name(path: str | None) -> str:
    """The executed notebook's file name among the attempt's artifacts: the notebook's own."""
    name = Path(path or "notebook.ipynb").name
    return name if name.endswith(".ipynb") else f"{name}.ipynb"


def cell_failure(output_path: Path, ename: str, evalue: str, source: str) -> str:
    """``cell 3 failed: ZeroDivisionError: division by zero`` and the start of its source.

    Cells are numbered as in the notebook pushed (from 1), not counting the cells Papermill
    adds, so the number points at the cell the user wrote.
    """
    number = _failed_cell_number(output_path)
    where = f"cell {number}" if number is not None else "a cell"
    excerpt = source_excerpt(source)
    message = f"{where} failed: {ename}: {strip_ansi(evalue)}"
    return f"{message}\n{excerpt}" if excerpt else message


def source_excerpt(source: str) -> str:
    lines = [line for line in source.splitlines() if line.strip()]
    shown = [
        "    " + (line if len(line) <= SOURCE_EXCERPT_CHARS else line[:SOURCE_EXCERPT_CHARS] + "…")
        for line in lines[:SOURCE_EXCERPT_LINES]
    ]
    if len(lines) > SOURCE_EXCERPT_LINES:
        shown.append("    …")
    return "\n".join(shown)


def strip_ansi(text: str) -> str:
    """Tracebacks come coloured for a terminal; the log and the error are plain text."""
    return _ANSI_ESCAPE.sub("", text)


def _failed_cell_number(output_path: Path) -> int | None:
    try:
        cells = json.loads(output_path.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return None
    number = 0
    for cell in cells:
        if _PAPERMILL_CELL_TAGS & set(cell.get("metadata", {}).get("tags", [])):
            continue
        number += 1
        if any(out.get("output_type") == "error" for out in cell.get("outputs", [])):
            return number
    return None


def _seconds(duration: Any) -> float | None:
    if not isinstance(duration, str):
        return None
    # Imported only when used: the definition package costs a fifth of a second to import.
    from podium.definition.durations import parse_duration

    return parse_duration(duration)


def _run_failure(exc: Exception, cell_timeout: Any) -> str:
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    if isinstance(exc, CellTimeoutError):
        return f"a cell ran longer than cell_timeout ({cell_timeout}) and was interrupted"
    if isinstance(exc, DeadKernelError):
        return f"the notebook's kernel died: {exc}"
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"the notebook could not run: {type(exc).__name__}{': ' + detail if detail else ''}"


def _prepare_jupyter_environment(attempt_dir: Path) -> None:
    """Keep Jupyter's runtime files (kernel connection files) with the attempt, not in the
    home directory, and use its current directory layout without a deprecation notice."""
    runtime = attempt_dir / IO_DIR / "jupyter-runtime"
    runtime.mkdir(exist_ok=True)
    os.environ.setdefault("JUPYTER_RUNTIME_DIR", str(runtime))
    os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")


def _injected_index(notebook: Mapping[str, Any]) -> int:
    """Where Papermill puts the injected parameters: after the cell tagged ``parameters``,
    else first."""
    for index, cell in enumerate(notebook.get("cells", [])):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return index + 1
    return 0


class _PlainHandler(logging.Handler):
    """Papermill's log lines, with each cell's header numbered as in the pushed notebook
    (as in the step's error) and one newline after each output."""

    def __init__(self, stream: TextIO, injected_index: int | None) -> None:
        super().__init__(logging.INFO)
        self.stream = stream
        self.injected_index = injected_index

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if text.startswith("Ending Cell"):
            return
        match = _CELL_HEADER.match(text)
        if match is not None:
            index = int(match.group(1)) - 1
            injected = self.injected_index
            if index == injected:
                text = "── parameters injected by Podium ──"
            else:
                text = f"── cell {index if injected is not None and index > injected else index + 1} ──"
        self.stream.write(text if text.endswith("\n") else text + "\n")
        self.stream.flush()


def _stream_papermill_log(stream: TextIO, injected_index: int | None) -> None:
    logger = logging.getLogger("papermill")
    logger.setLevel(logging.INFO)
    logger.addHandler(_PlainHandler(stream, injected_index))
    logger.propagate = False


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise NotebookFailed(f"cannot read {path.name} of the attempt: {exc}") from exc
    if not isinstance(value, dict):
        raise NotebookFailed(f"{path.name} of the attempt is not a JSON object")
    return value


def _write_error(attempt_dir: Path, message: str) -> None:
    temporary = attempt_dir / f"{ERROR_FILE}.tmp"
    try:
        temporary.write_text(message + "\n", encoding="utf-8")
        temporary.replace(attempt_dir / ERROR_FILE)
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main(sys.argv))
