"""The executed notebook of a ``notebook`` step, as HTML for a browser or as the .ipynb."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response

from podium.api.context import Context, WorkflowReader, act
from podium.api.query import AttemptNumber, InstanceId
from podium.control.assets import step_redactor
from podium.errors import InvalidInput, NotFound, StepNotFound
from podium.jobs.artifacts import artifact_path
from podium.jobs.notebook import notebook_file_name
from podium.store import attempts as store_attempts
from podium.store import instances as store_instances

router = APIRouter(prefix="/api/v1/workflows/{workflow_id}/instances", tags=["instances"])


class NotebookNotFound(NotFound):
    code = "notebook_not_found"


@router.get(
    "/{instance_id}/steps/{step_id}/notebook",
    response_model=None,
    openapi_extra=act("workflow.read"),
)
def executed_notebook(
    workflow_id: str,
    instance_id: InstanceId,
    step_id: str,
    ctx: Context,
    _: WorkflowReader,
    attempt: AttemptNumber = None,
    format: Literal["html", "ipynb"] = "html",
) -> Response:
    """The notebook as the attempt (by default the latest) executed it, so far: it is saved
    after every cell, so a running notebook shows the cells done."""
    with ctx.db.read() as conn:
        row = store_instances.find_instance(conn, workflow_id, instance_id)
        steps = ctx.plans(conn, workflow_id, row.version).at(row.plan_path).steps
        found = store_attempts.find_attempt(conn, row.pk, step_id, attempt)
    step = steps.get(step_id)
    if step is None:
        raise StepNotFound(f"instance {instance_id} of {workflow_id!r} has no step {step_id!r}")
    if step.type != "notebook":
        raise InvalidInput(f"step {step_id!r} is a {step.type} step, not a notebook step")
    which = f"attempt {attempt}" if attempt is not None else "any attempt"
    if found is None:
        raise NotebookNotFound(f"step {step_id!r} has not run ({which}) in instance {instance_id}")
    name = notebook_file_name(step.job.get("path"))
    path = artifact_path(Path(found.attempt_dir), name)
    if path is None:
        raise NotebookNotFound(
            f"attempt {found.attempt} of step {step_id!r} has no executed notebook "
            "(its kernel never started, or its files are on another machine)"
        )
    redactor = step_redactor(ctx, row, step.assets, running=not found.ended)
    if redactor is not None:
        # Masked on disk once the attempt ends; a running one is masked as it is read.
        text = redactor.text(_read_notebook(path))
        if format == "ipynb":
            headers = {"Content-Disposition": f'attachment; filename="{name}"'}
            return Response(text, media_type="application/x-ipynb+json", headers=headers)
        return _sandboxed(notebook_html(text))
    if format == "ipynb":
        return FileResponse(path, media_type="application/x-ipynb+json", filename=name)
    return _sandboxed(notebook_html(_read_notebook(path)))


NOTEBOOK_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline' data:; img-src data:; "
    "font-src data:; form-action 'none'; frame-ancestors 'self'"
)
"""A notebook's HTML is the job's output: no script of it runs, on the API's origin or any."""


def _sandboxed(html: str) -> HTMLResponse:
    return HTMLResponse(
        html,
        headers={"Content-Security-Policy": NOTEBOOK_CSP, "X-Content-Type-Options": "nosniff"},
    )


MAX_NOTEBOOK_BYTES = 64 << 20
"""An executed notebook larger than this is not rendered: download its .ipynb instead."""


def _read_notebook(path: Path) -> str:
    with open(path, "rb") as f:
        data = f.read(MAX_NOTEBOOK_BYTES + 1)
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise InvalidInput(
            f"the executed notebook is larger than {MAX_NOTEBOOK_BYTES >> 20} MiB: "
            "read it on the worker's machine"
        )
    return data.decode("utf-8", errors="replace")


def notebook_html(text: str) -> str:
    import nbformat
    from nbconvert import HTMLExporter

    notebook = nbformat.reads(text, as_version=4)  # type: ignore[no-untyped-call]
    exporter = HTMLExporter()  # type: ignore[no-untyped-call]
    body, _resources = exporter.from_notebook_node(notebook)
    return body
