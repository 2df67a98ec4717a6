"""Run strategies: when a new instance of a workflow may start.

Pure decisions over the facts the worker gathers (what runs, what failed, what waits); the
worker applies them under a lock on the workflow, so two workers never admit past a limit.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PARALLEL = 20


@dataclass(frozen=True)
class Policy:
    strategy: str = "parallel"
    concurrency: int | None = None

    @property
    def limit(self) -> int:
        """Instances allowed to run at once: only parallel may run more than one."""
        if self.strategy != "parallel":
            return 1
        return self.concurrency or DEFAULT_PARALLEL


def arrival_refused(policy: Policy, running: list[int], instance_id: int) -> str | None:
    """first_only: a new instance while one runs ends STOPPED, with this reason."""
    if policy.strategy == "first_only" and running:
        return (
            f"first_only: instance {running[0]} was running when instance {instance_id} "
            "arrived, so it did not start"
        )
    return None


def superseded(policy: Policy) -> bool:
    """last_only: a new instance stops the one running (and any still queued before it)."""
    return policy.strategy == "last_only"


def free_slots(policy: Policy, running: int) -> int:
    return max(0, policy.limit - running)


def waiting_reason(policy: Policy, running: int, blocker: int | None) -> str:
    if policy.strategy == "strict_sequential" and blocker is not None:
        return (
            f"strict_sequential: blocked by failed instance {blocker}; restart it to success "
            "or run `podium unblock`"
        )
    return (
        f"{policy.strategy}: {running} of {policy.limit} allowed instance"
        f"{'s' if policy.limit != 1 else ''} running; starts when one ends"
    )
