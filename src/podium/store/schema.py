"""The database schema: the one declaration that migrations must reproduce exactly.

Times are UTC epoch seconds (floats) so both dialects compare and index them alike.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

workflows = sa.Table(
    "workflows",
    metadata,
    sa.Column("workflow_id", sa.String(128), primary_key=True),
    sa.Column("owner", sa.String(200), nullable=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("active_version", sa.Integer, nullable=True),
    sa.Column("latest_version", sa.Integer, nullable=False),
    sa.Column("last_instance_id", sa.Integer, nullable=False, server_default="0"),
    # strict_sequential: failed instances up to this number no longer block (podium unblock).
    sa.Column("unblocked_through", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

workflow_versions = sa.Table(
    "workflow_versions",
    metadata,
    sa.Column("workflow_id", sa.String(128), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("canonical_yaml", sa.Text, nullable=False),
    sa.Column("definition", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
)

instances = sa.Table(
    "instances",
    metadata,
    sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("workflow_id", sa.String(128), nullable=False),
    sa.Column("instance_id", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("run", sa.Integer, nullable=False, server_default="1"),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("trigger", sa.JSON, nullable=False),
    sa.Column("error", sa.JSON, nullable=True),
    sa.Column("steps_total", sa.Integer, nullable=False, server_default="0"),
    sa.Column("steps_done", sa.Integer, nullable=False, server_default="0"),
    sa.Column("steps_active", sa.Integer, nullable=False, server_default="0"),
    sa.Column("steps_queued", sa.Integer, nullable=False, server_default="0"),
    sa.Column("ready_seq", sa.Integer, nullable=False, server_default="0"),
    sa.Column("halt", sa.String(20), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float, nullable=True),
    sa.Column("ended_at", sa.Float, nullable=True),
    # A child instance: its parent and the step there that started it. A foreach iteration
    # also has its index and the path of its steps in the workflow (the foreach's inner
    # steps); it shares its parent's instance_id and is hidden from lists. A subworkflow's
    # instance is an instance of its own workflow, numbered and listed there.
    sa.Column("parent_pk", sa.Integer, nullable=True),
    sa.Column("parent_step", sa.String(200), nullable=True),
    sa.Column("iteration", sa.Integer, nullable=True),
    sa.Column("plan_path", sa.String(400), nullable=False, server_default=""),
    # Why a CREATED instance waits (its run strategy or concurrency), for people to read.
    sa.Column("waiting", sa.Text, nullable=True),
    # Concurrency tags a child instance inherits from the step that started it (a foreach
    # or subworkflow step with tags): every job step inside needs their permits too.
    sa.Column("tags", sa.JSON, nullable=True),
    # Who asked for the instance (a principal, or ``trigger:cron`` ...) and the identity
    # its jobs run as (the workflow's owner when it was created).
    sa.Column("started_by", sa.String(200), nullable=True),
    sa.Column("run_as", sa.String(128), nullable=True),
    # The real values of the params shown masked in ``params`` (secret params, and values
    # holding a secret) and the strings to hide, sealed (podium.vault.params); NULL: none.
    sa.Column("sealed_params", sa.Text, nullable=True),
    sa.Index(
        "uq_instances_workflow_instance",
        "workflow_id",
        "instance_id",
        unique=True,
        sqlite_where=sa.text("iteration IS NULL"),
        postgresql_where=sa.text("iteration IS NULL"),
    ),
    sa.Index("ix_instances_parent", "parent_pk", "parent_step", "iteration"),
    sa.Index("ix_instances_queue", "workflow_id", "status", "instance_id"),
)

steps = sa.Table(
    "steps",
    metadata,
    sa.Column("instance_pk", sa.Integer, primary_key=True),
    sa.Column("step_id", sa.String(200), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("pending_deps", sa.Integer, nullable=False),
    sa.Column("live_deps", sa.Integer, nullable=False, server_default="0"),
    sa.Column("ready_seq", sa.Integer, nullable=True),
    sa.Column("attempt", sa.Integer, nullable=False, server_default="0"),
    sa.Column("user_errors", sa.Integer, nullable=False, server_default="0"),
    sa.Column("platform_errors", sa.Integer, nullable=False, server_default="0"),
    sa.Column("params", sa.JSON, nullable=True),
    sa.Column("outputs", sa.JSON, nullable=True),
    sa.Column("error", sa.JSON, nullable=True),
    sa.Column("retry_at", sa.Float, nullable=True),
    sa.Column("started_at", sa.Float, nullable=True),
    sa.Column("ended_at", sa.Float, nullable=True),
    # A foreach step's iterations, counted as they go so reading them never scans them.
    sa.Column("iter_total", sa.Integer, nullable=True),
    sa.Column("iter_launched", sa.Integer, nullable=False, server_default="0"),
    sa.Column("iter_active", sa.Integer, nullable=False, server_default="0"),
    sa.Column("iter_succeeded", sa.Integer, nullable=False, server_default="0"),
    sa.Column("iter_failed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("iter_other", sa.Integer, nullable=False, server_default="0"),
    sa.Column("iter_over", sa.JSON, nullable=True),
    # After a restart: the iterations to run again (the others succeeded and are kept).
    sa.Column("iter_redo", sa.JSON, nullable=True),
    # A foreach's own params that hold a secret, sealed: its iterations receive them.
    sa.Column("sealed_params", sa.Text, nullable=True),
    sa.Index("ix_steps_ready", "instance_pk", "ready_seq"),
)

attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("attempt_id", sa.String(255), primary_key=True),
    sa.Column("instance_pk", sa.Integer, nullable=False),
    sa.Column("step_id", sa.String(200), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("worker_id", sa.String(200), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("attempt_dir", sa.Text, nullable=False),
    sa.Column("deadline_at", sa.Float, nullable=True),
    sa.Column("cancel_reason", sa.String(32), nullable=True),
    sa.Column("exit_code", sa.Integer, nullable=True),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("ended_at", sa.Float, nullable=True),
    sa.Index("ix_attempts_instance_status", "instance_pk", "status"),
)

work = sa.Table(
    "work",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("instance_pk", sa.Integer, nullable=False),
    sa.Column("step_id", sa.String(200), nullable=True),
    sa.Column("attempt", sa.Integer, nullable=True),
    sa.Column("due_at", sa.Float, nullable=False),
    sa.Column("lease_owner", sa.String(200), nullable=True),
    sa.Column("lease_until", sa.Float, nullable=True),
    sa.Column("tries", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_work_due", "due_at"),
    sa.Index("ix_work_lease", "lease_owner", "lease_until"),
    sa.Index("ix_work_instance", "instance_pk", "kind"),
)

breakpoints = sa.Table(
    "breakpoints",
    metadata,
    sa.Column("workflow_id", sa.String(128), primary_key=True),
    sa.Column("step_id", sa.String(200), primary_key=True),
    # 0: every future instance of the workflow; otherwise that one instance.
    sa.Column("instance_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

# Tag limits: a tag's row is locked (FOR UPDATE) by every change to its permits, so the
# count of holders under that lock is exact across workers. ``max_permits`` NULL: no limit.
tag_limits = sa.Table(
    "tag_limits",
    metadata,
    sa.Column("tag", sa.String(64), primary_key=True),
    sa.Column("max_permits", sa.Integer, nullable=True),
    sa.Column("updated_at", sa.Float, nullable=False),
)

# Who holds a permit of a tag: a step of an instance (one row per tag it carries).
permits = sa.Table(
    "permits",
    metadata,
    sa.Column("tag", sa.String(64), primary_key=True),
    sa.Column("instance_pk", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("step_id", sa.String(200), primary_key=True),
    sa.Column("acquired_at", sa.Float, nullable=False),
    sa.Index("ix_permits_holder", "instance_pk", "step_id"),
)

# Steps waiting for a permit of a tag, served first come first served (by id).
permit_waiters = sa.Table(
    "permit_waiters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tag", sa.String(64), nullable=False),
    sa.Column("instance_pk", sa.Integer, nullable=False),
    sa.Column("step_id", sa.String(200), nullable=False),
    sa.Column("since", sa.Float, nullable=False),
    sa.Index("ix_permit_waiters_tag", "tag", "id"),
    sa.Index("ix_permit_waiters_holder", "instance_pk", "step_id"),
)

# -- triggers, signals and the event stream -------------------------------------------

# The cron trigger of a workflow's active version: when it fires next. ``next_fire_at`` is
# the nominal fire time (UTC epoch), ``due_at`` the same plus the workflow's jitter.
cron_triggers = sa.Table(
    "cron_triggers",
    metadata,
    sa.Column("workflow_id", sa.String(128), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("cron", sa.String(200), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("jitter_s", sa.Float, nullable=False, server_default="0"),
    sa.Column("catchup", sa.String(8), nullable=False),
    sa.Column("next_fire_at", sa.Float, nullable=False),
    sa.Column("due_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Index("ix_cron_triggers_due", "due_at"),
)

# One row per fire of a cron trigger: the key that makes a tick fire once, however many
# replicas look at it.
fires = sa.Table(
    "fires",
    metadata,
    sa.Column("workflow_id", sa.String(128), primary_key=True),
    sa.Column("fire_time", sa.Float, primary_key=True),
    sa.Column("instance_id", sa.Integer, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
)

# The last starts each trigger of a workflow could not make (its params did not resolve):
# what ``podium info`` shows. ``trigger`` is ``cron`` or ``signals[N]`` (the group); only
# the newest few of each are kept.
trigger_failures = sa.Table(
    "trigger_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("workflow_id", sa.String(128), nullable=False),
    sa.Column("trigger", sa.String(32), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Index("ix_trigger_failures_workflow", "workflow_id", "trigger", "id"),
)

# A signal name's last sequence number; its row is locked while a signal of that name is
# announced, so numbering and matching are serial per name.
signal_names = sa.Table(
    "signal_names",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("last_seq", sa.Integer, nullable=False),
)

signals = sa.Table(
    "signals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("request_id", sa.String(200), nullable=True),
    sa.Column("source", sa.JSON, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.UniqueConstraint("name", "seq", name="uq_signals_name_seq"),
    sa.UniqueConstraint("name", "request_id", name="uq_signals_name_request"),
)

# The signal trigger of a workflow's active version, one row per signal of each group, with
# the newest matching signal not yet used to start an instance.
signal_slots = sa.Table(
    "signal_slots",
    metadata,
    sa.Column("workflow_id", sa.String(128), primary_key=True),
    sa.Column("group_index", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("signal_index", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("match", sa.JSON, nullable=False),
    sa.Column("signal_id", sa.Integer, nullable=True),
    sa.Index("ix_signal_slots_name", "name"),
)

# A step waiting for signals (``wait_for``): one row per signal it still needs.
signal_waits = sa.Table(
    "signal_waits",
    metadata,
    sa.Column("instance_pk", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("step_id", sa.String(200), primary_key=True),
    sa.Column("wait_index", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("match", sa.JSON, nullable=False),
    sa.Column("since", sa.Float, nullable=False),
    sa.Index("ix_signal_waits_name", "name"),
)

# How far each event sink has delivered the outbox.
outbox_cursors = sa.Table(
    "outbox_cursors",
    metadata,
    sa.Column("sink", sa.String(100), primary_key=True),
    sa.Column("last_id", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

workers = sa.Table(
    "workers",
    metadata,
    sa.Column("worker_id", sa.String(200), primary_key=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("stopped_at", sa.Float, nullable=True),
)

timeline = sa.Table(
    "timeline",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("instance_pk", sa.Integer, nullable=False),
    sa.Column("step_id", sa.String(200), nullable=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("detail", sa.JSON, nullable=True),
    sa.Index("ix_timeline_instance", "instance_pk", "id"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("topic", sa.String(64), nullable=False),
    sa.Column("key", sa.String(255), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
)

# Job templates registered on the server: every registration is a new version; jobs run
# the latest one when they start.
templates = sa.Table(
    "templates",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("parameters", sa.JSON, nullable=False),
    sa.Column("script", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
)

# -- identity, access and audit ------------------------------------------------------

# Users and service accounts. ``role`` is the global role (viewer < operator < owner <
# admin), NULL for none: such a principal sees only the workflows it was granted.
principals = sa.Table(
    "principals",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("role", sa.String(16), nullable=True),
    sa.Column("groups", sa.JSON, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_by", sa.String(128), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
)

# API tokens: only the SHA-256 of the secret is kept. ``role`` caps what the token may do
# (at most its principal's role); ``workflows`` (a list, or NULL for all) limits where.
tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("token_id", sa.String(32), primary_key=True),
    sa.Column("principal", sa.String(128), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16), nullable=True),
    sa.Column("workflows", sa.JSON, nullable=True),
    sa.Column("expires_at", sa.Float, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("revoked_at", sa.Float, nullable=True),
    sa.Column("last_used_at", sa.Float, nullable=True),
    sa.UniqueConstraint("principal", "name", name="uq_tokens_principal_name"),
)

# Per-workflow roles: granted by a definition's ``access:`` (source 'definition', replaced
# at every push) or by ``podium access`` (source 'grant'). ``name`` is a principal or group.
workflow_access = sa.Table(
    "workflow_access",
    metadata,
    sa.Column("workflow_id", sa.String(128), primary_key=True),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("source", sa.String(16), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("granted_by", sa.String(128), nullable=True),
    sa.Column("granted_at", sa.Float, nullable=False),
)

# Which OS user the jobs of a Podium identity (principal or group) run as, when the worker
# runs as root. Without a row, a job is refused rather than run as root.
os_users = sa.Table(
    "os_users",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("os_user", sa.String(64), nullable=False),
    sa.Column("set_by", sa.String(128), nullable=True),
    sa.Column("set_at", sa.Float, nullable=False),
)

# Every change made through the door: who, what, where, when.
audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("workflow_id", sa.String(128), nullable=True),
    sa.Column("target", sa.String(400), nullable=True),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Index("ix_audit_at", "at"),
    sa.Index("ix_audit_actor", "actor", "id"),
    sa.Index("ix_audit_workflow", "workflow_id", "id"),
)

# -- assets ---------------------------------------------------------------------------

# Files jobs receive in $PODIUM_ASSETS, stored sealed (podium.vault: a data key per asset,
# wrapped under the master key ``key_id``); the plaintext is never stored. ``owner`` (a
# principal or group) is whose jobs may read it; ``size`` counts plaintext bytes.
assets = sa.Table(
    "assets",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("owner", sa.String(128), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sealed", sa.LargeBinary, nullable=False),
    sa.Column("key_id", sa.String(32), nullable=False),
    sa.Column("created_by", sa.String(128), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)
