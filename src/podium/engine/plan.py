"""A workflow version compiled for execution: steps by id, dependencies both ways.

Compiled once per version and cached, so advancing an instance never re-reads or
re-walks the definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from podium.definition.durations import parse_duration
from podium.definition.params import secret_names
from podium.definition.templates import BUILT_IN_TYPES
from podium.expr import Template, references

JOB_KEYS = (
    "path",
    "parameters",
    "notebook",
    "cell_timeout",
    "image",
    "command",
    "env",
    "container",
    "template",
)
"""Step keys handed to the job runner as they are (see ``StepPlan.job``)."""

PERMIT_TYPES = frozenset({"script", "python", "sleep", "notebook", "container"})


@dataclass(frozen=True)
class RetryPolicy:
    limit: int = 0
    platform_limit: int = 3
    backoff: str = "exponential"
    delay_s: float = 10.0
    max_delay_s: float = 600.0


@dataclass(frozen=True)
class StepPlan:
    id: str
    position: int
    type: str
    depends_on: tuple[str, ...]
    dependents: tuple[str, ...]
    params: Mapping[str, Any]
    outputs: tuple[str, ...]
    retries: RetryPolicy
    timeout_s: float | None
    on_failure: str
    script: str | None
    sleep_s: float | None
    condition: str | None = None
    """The ``if`` expression; false skips the step."""
    foreach: Foreach | None = None
    subworkflow: SubworkflowRef | None = None
    reads_outputs_of: tuple[str, ...] = ()
    """Upstream steps whose outputs the params or the script read (loaded when it starts)."""
    tags: tuple[str, ...] = ()
    """Concurrency tags, sorted and unique: permits are always taken in this order."""
    wait_for: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    """Signals the step waits for before it runs: (name, match), match unresolved."""
    emits: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    """Signals the step announces when it succeeds: (name, params), params unresolved."""
    job: Mapping[str, Any] = field(default_factory=dict)
    """What the job runner of the step's type reads beyond its script: ``path`` and
    ``parameters`` of a notebook, ``image``, ``command`` and ``env`` of a container,
    ``container`` for any type that runs in one (the definition's keys, as pushed)."""
    assets: tuple[str, ...] = ()
    """The assets the job receives in ``$PODIUM_ASSETS`` (names; opened by the worker)."""

    @property
    def takes_permits(self) -> bool:
        """Only a step that runs something holds permits; a foreach or subworkflow step
        passes its tags down to the steps inside it, so it never holds a permit its own
        steps wait for."""
        return self.type in PERMIT_TYPES or "template" in self.job


@dataclass(frozen=True)
class SubworkflowRef:
    workflow: str
    version: str | int
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Foreach:
    over: Mapping[str, Any]
    concurrency: int | None
    inner: Plan
    subworkflow: SubworkflowRef | None = None
    """Instead of inner steps: an instance of this workflow per iteration."""
    """The steps each iteration runs, as a plan of their own (an iteration is a child
    instance of the foreach step's instance)."""


@dataclass(frozen=True)
class Plan:
    workflow_id: str
    version: int
    params: Mapping[str, Any]
    step_concurrency: int
    timeout_s: float | None
    steps: Mapping[str, StepPlan]
    path: str = ""
    """Where this plan sits: "" for the workflow, "backfill" for the steps of a foreach."""
    run_strategy: str = "parallel"
    concurrency: int | None = None

    @property
    def roots(self) -> tuple[StepPlan, ...]:
        return tuple(s for s in self.steps.values() if not s.depends_on)

    @cached_property
    def secret_params(self) -> frozenset[str]:
        """The workflow params declared ``secret: true`` (those of the workflow, also in the
        plan of a foreach)."""
        return secret_names(self.params)

    def at(self, path: str) -> Plan:
        """The plan of the foreach at ``path`` (``backfill`` or ``outer.inner``)."""
        plan = self
        for part in path.split(".") if path else ():
            foreach = plan.steps[part].foreach
            if foreach is None:
                raise KeyError(f"step {part!r} is not a foreach")
            plan = foreach.inner
        return plan


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    return parse_duration(str(value))


def _retry_policy(raw: Mapping[str, Any] | None) -> RetryPolicy:
    if not raw:
        return RetryPolicy()
    default = RetryPolicy()
    delay_s = _seconds(raw.get("delay"))
    max_delay_s = _seconds(raw.get("max_delay"))
    return RetryPolicy(
        limit=int(raw.get("limit", default.limit)),
        platform_limit=int(raw.get("platform_limit", default.platform_limit)),
        backoff=str(raw.get("backoff", default.backoff)),
        delay_s=default.delay_s if delay_s is None else delay_s,
        max_delay_s=default.max_delay_s if max_delay_s is None else max_delay_s,
    )


def _outputs_read(raw: Mapping[str, Any], step_ids: set[str]) -> tuple[str, ...]:
    """The steps whose outputs this step's params and script name (``plan.dates``)."""
    names = {ref.name for _, ref in references(raw.get("params") or {})}
    if raw.get("foreach"):
        spec = raw["foreach"]
        names |= {ref.name for _, ref in references(spec.get("over") or {})}
        names |= {
            ref.name for _, ref in references((spec.get("subworkflow") or {}).get("params") or {})
        }
    if raw.get("subworkflow"):
        names |= {ref.name for _, ref in references(raw["subworkflow"].get("params") or {})}
    if isinstance(raw.get("if"), str):
        names |= {ref.name for _, ref in references(_as_template(raw["if"]))}
    script = raw.get("script")
    if isinstance(script, str):
        names |= {ref.name for ref in Template.parse(script, shell=True).references()}
    for wait in raw.get("wait_for") or ():
        names |= {ref.name for _, ref in references(wait.get("match") or {})}
    for emit in raw.get("emits") or ():
        # The step's own outputs are handed to its emits directly.
        own = {ref.name for _, ref in references(emit.get("params") or {})}
        names |= own - {str(raw["id"])}
    return tuple(sorted(names & step_ids))


def _as_template(condition: str) -> str:
    return condition if "${" in condition else "${ " + condition + " }"


def compile_plan(
    workflow_id: str,
    version: int,
    definition: Mapping[str, Any],
    *,
    path: str = "",
    outer_ids: frozenset[str] = frozenset(),
) -> Plan:
    raw_steps: list[Mapping[str, Any]] = list(definition["steps"])
    dependents: dict[str, list[str]] = {str(s["id"]): [] for s in raw_steps}
    for raw in raw_steps:
        for dep in raw.get("depends_on") or ():
            dependents[str(dep)].append(str(raw["id"]))
    visible = frozenset(dependents) | outer_ids
    steps: dict[str, StepPlan] = {}
    for position, raw in enumerate(raw_steps):
        step_id = str(raw["id"])
        foreach = None
        subworkflow = _subworkflow_ref(raw.get("subworkflow"))
        if raw.get("foreach"):
            foreach = _compile_foreach(
                workflow_id, version, definition, raw, f"{path}.{step_id}".lstrip("."), visible
            )
        steps[step_id] = StepPlan(
            id=step_id,
            position=position,
            type=_step_type(raw, foreach, subworkflow),
            depends_on=tuple(str(d) for d in raw.get("depends_on") or ()),
            dependents=tuple(dependents[step_id]),
            params=dict(raw.get("params") or {}),
            outputs=tuple(raw.get("outputs") or ()),
            retries=_retry_policy(raw.get("retries")),
            timeout_s=_seconds(raw.get("timeout")),
            on_failure=str(raw.get("on_failure") or "fail"),
            script=raw.get("script"),
            sleep_s=_seconds(raw.get("seconds")),
            condition=raw.get("if"),
            foreach=foreach,
            subworkflow=subworkflow,
            reads_outputs_of=_outputs_read(raw, set(visible)),
            tags=tuple(sorted(set(raw.get("tags") or ()))),
            wait_for=tuple(
                (str(w["name"]), dict(w.get("match") or {})) for w in raw.get("wait_for") or ()
            ),
            emits=tuple(
                (str(e["name"]), dict(e.get("params") or {})) for e in raw.get("emits") or ()
            ),
            job=_job_keys(raw),
            assets=tuple(raw.get("assets") or ()),
        )
    return Plan(
        workflow_id=workflow_id,
        version=version,
        params=dict(definition.get("params") or {}),
        step_concurrency=int(definition.get("step_concurrency") or 20),
        timeout_s=_seconds(definition.get("timeout")) if not path else None,
        steps=steps,
        path=path,
        run_strategy=str(definition.get("run_strategy") or "parallel"),
        concurrency=definition.get("concurrency"),
    )


def _step_type(
    raw: Mapping[str, Any], foreach: Foreach | None, subworkflow: SubworkflowRef | None
) -> str:
    if foreach is not None:
        return "foreach"
    if subworkflow is not None:
        return "subworkflow"
    return str(raw.get("type") or "noop")


def _job_keys(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The step's job keys; a step whose type is a template also gets ``template``, its
    name, so the worker runs the template's script (looked up when the job starts)."""
    job = {k: raw[k] for k in JOB_KEYS if raw.get(k) is not None}
    if raw.get("type") and raw["type"] not in BUILT_IN_TYPES:
        job["template"] = raw["type"]
    return job


def _compile_foreach(
    workflow_id: str,
    version: int,
    definition: Mapping[str, Any],
    raw: Mapping[str, Any],
    path: str,
    visible: frozenset[str],
) -> Foreach:
    spec = raw["foreach"]
    inner_definition = {
        "steps": spec.get("steps") or [],
        "step_concurrency": definition.get("step_concurrency"),
    }
    inner = compile_plan(workflow_id, version, inner_definition, path=path, outer_ids=visible)
    return Foreach(
        over=dict(spec["over"]),
        concurrency=spec.get("concurrency"),
        inner=inner,
        subworkflow=_subworkflow_ref(spec.get("subworkflow")),
    )


def _subworkflow_ref(spec: Mapping[str, Any] | None) -> SubworkflowRef | None:
    if not spec:
        return None
    return SubworkflowRef(
        workflow=str(spec["workflow"]),
        version=spec.get("version") or "active",
        params=dict(spec.get("params") or {}),
    )
