"""The container keys of a step: ``resources`` and ``container``, and where they apply."""

from __future__ import annotations

import pytest

from podium.definition import load_workflow
from podium.definition.containers import memory_bytes
from podium.errors import PodiumError


def one_step(body: str) -> str:
    return f"id: w\nsteps:\n  - {{id: a, {body}}}\n"


def test_resources_of_a_container_step() -> None:
    wf = load_workflow(one_step("type: container, image: x, resources: {cpu: 1.5, memory: 512m}"))
    resources = wf.steps[0].resources
    assert resources is not None
    assert resources.nano_cpus == 1_500_000_000
    assert resources.memory_bytes == 512 * 1024 * 1024


def test_script_in_a_container() -> None:
    wf = load_workflow(one_step("type: script, script: 'true', container: {image: x, env: {A: b}}"))
    container = wf.steps[0].container
    assert container is not None and container.image == "x" and container.env == {"A": "b"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("512m", 512 << 20),
        ("2g", 2 << 30),
        ("1.5G", 3 << 29),
        (1 << 30, 1 << 30),
        ("64mb", 64 << 20),
    ],
)
def test_memory_units(value: object, expected: int) -> None:
    assert memory_bytes(value) == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("type: container, image: x, resources: {cpu: 0}", "bad cpu 0"),
        ("type: container, image: x, resources: {cpu: two}", "bad cpu 'two'"),
        ("type: container, image: x, resources: {memory: 512x}", "bad memory '512x'"),
        ("type: container, image: x, resources: {memory: 1m}", "at least 6m"),
        ("type: container, image: x, resources: {disk: 1g}", "disk"),
        ("type: script, script: 'true', resources: {cpu: 1}", "key 'resources' limits a container"),
        ("type: noop, container: {image: x}", "key 'container' does not apply to type 'noop'"),
        ("type: container, container: {image: x}", "key 'container' does not apply"),
        ("type: container, command: [sh]", "type 'container' needs 'image'"),
    ],
)
def test_mistakes_are_explained(body: str, message: str) -> None:
    with pytest.raises(PodiumError) as caught:
        load_workflow(one_step(body))
    assert message in str(caught.value)
