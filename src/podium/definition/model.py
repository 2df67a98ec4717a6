"""The workflow definition (docs: ``shared/spec/DSL.md``) as frozen, strict pydantic models.

Field order is the order canonical YAML is written in, so it is chosen for reading: what a
step is, then what it runs, then how it runs. Rules that involve several fields (a step's body,
the dependency graph) live in :mod:`podium.definition.rules`, shared with the checks that run
on raw YAML, so a model built in Python and a file pushed from the CLI are held to one law.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, JsonValue, model_validator

from podium.definition.assets import AssetName
from podium.definition.containers import ContainerOptions, Network, ReadOnly, Resources
from podium.definition.fields import (
    RULES_ERROR,
    CronExpression,
    Duration,
    Identifier,
    PositiveDuration,
    PositiveSeconds,
    PrincipalName,
    SignalName,
    StrictModel,
    TagName,
    TimeZoneName,
    VersionSelector,
    WorkflowId,
    rejected,
    seconds_of,
)
from podium.definition.matching import match_problems
from podium.definition.rules import workflow_rules
from podium.definition.templates import JobType

StepType = Literal["noop", "sleep", "script", "python", "notebook", "container"]
RunStrategy = Literal["sequential", "strict_sequential", "first_only", "last_only", "parallel"]
StepKind = Literal["job", "foreach", "subworkflow"]

DEFAULT_PARALLEL_CONCURRENCY = 20


_Model = StrictModel


class Signal(_Model):
    """An input signal: fires when a signal named ``name`` with params matching ``match`` lands."""

    name: SignalName
    match: dict[str, JsonValue] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_comparisons(self) -> Signal:
        problems = match_problems(self.match)
        if problems:
            raise rejected("; ".join(problems))
        return self


class Emit(_Model):
    """An output signal a step sends on success."""

    name: SignalName
    params: dict[str, JsonValue] = Field(default_factory=dict)


class Trigger(_Model):
    cron: CronExpression | None = None
    timezone: TimeZoneName = "UTC"
    jitter: Duration | None = None
    catchup: Literal["none", "latest", "all"] = "latest"
    signals: list[list[Signal]] = Field(default_factory=list)

    @property
    def jitter_seconds(self) -> float:
        return seconds_of(self.jitter) or 0.0


MAX_RETRIES = 100
"""Retries of a step, of each kind: more would only hide a step that cannot succeed."""
MAX_CONCURRENCY = 10_000
"""The most instances, steps or iterations a definition may run at once (in line after that)."""


class Retries(_Model):
    """Retry policy; user errors count against ``limit``, platform errors (a lost worker,
    a killed container) against ``platform_limit`` so an unlucky host does not eat the
    user's budget."""

    limit: int = Field(default=0, ge=0, le=MAX_RETRIES)
    platform_limit: int = Field(default=3, ge=0, le=MAX_RETRIES)
    backoff: Literal["exponential", "fixed"] = "exponential"
    delay: Duration = "10s"
    max_delay: Duration = "10m"

    @property
    def delay_seconds(self) -> float:
        return seconds_of(self.delay) or 0.0

    @property
    def max_delay_seconds(self) -> float:
        return seconds_of(self.max_delay) or 0.0


class Subworkflow(_Model):
    workflow: WorkflowId
    version: VersionSelector = "active"
    params: dict[str, JsonValue] = Field(default_factory=dict)


class Foreach(_Model):
    """Runs ``steps`` (or one subworkflow) once per item; several ``over`` keys make a
    cartesian product."""

    over: dict[str, JsonValue] = Field(min_length=1)
    concurrency: int | None = Field(default=None, ge=1, le=MAX_CONCURRENCY)
    steps: list[Step] | None = Field(default=None, min_length=1)
    subworkflow: Subworkflow | None = None


class Step(_Model):
    id: Identifier
    depends_on: list[str] = Field(default_factory=list)
    if_: str | None = Field(default=None, alias="if")
    type: JobType | None = None
    seconds: PositiveSeconds | None = None
    script: str | None = None
    file: str | None = None
    path: str | None = None
    parameters: dict[str, JsonValue] | None = None
    notebook: dict[str, JsonValue] | None = None
    cell_timeout: PositiveDuration | None = None
    image: str | None = None
    command: list[str] | None = None
    env: dict[str, str] | None = None
    read_only: ReadOnly = None
    network: Network = None
    container: ContainerOptions | None = None
    resources: Resources | None = None
    assets: list[AssetName] = Field(default_factory=list)
    foreach: Foreach | None = None
    subworkflow: Subworkflow | None = None
    params: dict[str, JsonValue] = Field(default_factory=dict)
    outputs: list[Identifier] = Field(default_factory=list)
    retries: Retries = Field(default_factory=Retries)
    timeout: PositiveDuration | None = None
    on_failure: Literal["fail", "fail_fast", "ignore"] = "fail"
    tags: list[TagName] = Field(default_factory=list)
    wait_for: list[Signal] = Field(default_factory=list)
    emits: list[Emit] = Field(default_factory=list)

    @property
    def kind(self) -> StepKind:
        """What the engine does with the step: run a job, fan out, or start a workflow."""
        if self.foreach is not None:
            return "foreach"
        if self.subworkflow is not None:
            return "subworkflow"
        return "job"

    @property
    def timeout_seconds(self) -> float | None:
        return seconds_of(self.timeout)


class Workflow(_Model):
    id: WorkflowId
    description: str | None = None
    owner: PrincipalName | None = None
    access: dict[PrincipalName, Literal["viewer", "operator", "owner"]] = Field(
        default_factory=dict
    )
    tags: list[str] = Field(default_factory=list)
    trigger: Trigger | None = None
    run_strategy: RunStrategy = "parallel"
    concurrency: int | None = Field(default=None, ge=1, le=MAX_CONCURRENCY)
    step_concurrency: int = Field(default=20, ge=1, le=MAX_CONCURRENCY)
    timeout: PositiveDuration | None = None
    params: dict[str, JsonValue] = Field(default_factory=dict)
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_rules(self) -> Workflow:
        problems = workflow_rules(self.model_dump(by_alias=True, exclude_none=True))
        if problems:
            raise rejected("; ".join(str(p) for p in problems), RULES_ERROR)
        return self

    @property
    def effective_concurrency(self) -> int:
        """Instances allowed at once: the set value, else 20 for parallel and 1 otherwise."""
        if self.concurrency is not None:
            return self.concurrency
        return DEFAULT_PARALLEL_CONCURRENCY if self.run_strategy == "parallel" else 1

    @property
    def timeout_seconds(self) -> float | None:
        return seconds_of(self.timeout)

    def step(self, step_id: str) -> Step:
        """The top-level step named ``step_id``; ``KeyError`` if there is none."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)


def model_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model class that validates the mapping found at ``loc`` (``None`` inside free
    dicts), used to list the keys a mapping may have."""
    current: type[BaseModel] | None = Workflow
    for part in loc:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        field = next(
            (f for name, f in current.model_fields.items() if part in (name, f.alias)), None
        )
        current = _model_in(field.annotation) if field is not None else None
    return current


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def allowed_keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


Foreach.model_rebuild()
