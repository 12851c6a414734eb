"""Typed SQLAlchemy 2 models: the one place the schema is declared.

ORM rows never leave ``store/``; :mod:`jupyter_mlops.store.records` holds the frozen
dataclasses the rest of the package sees. Every column a filter or listing touches has an
index, and every constraint is named so Alembic migrations stay portable between SQLite and
PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Run ids are 32-char lowercase hex (uuid4), like MLflow's, so they are easy to paste.
RUN_ID = String(32)
#: BLAKE3 hex digests are 64 characters.
DIGEST = String(64)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Experiment(Base):
    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
    # "active" or "deleted" (MLflow's lifecycle: a deleted experiment hides and takes no runs).
    lifecycle_stage: Mapped[str] = mapped_column(String(16), server_default="active")
    updated_at: Mapped[float | None] = mapped_column(Float)


class ExperimentTag(Base):
    __tablename__ = "experiment_tags"

    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(String(5000))


class Environment(Base):
    """A Python environment, deduplicated by the hash of its package list."""

    __tablename__ = "environments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    digest: Mapped[str] = mapped_column(DIGEST, unique=True)
    python: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(256))
    packages: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_experiment_start", "experiment_id", "start_time"),
        # Prefix LIKE on names under any collation (PostgreSQL; migration 0011).
        Index("ix_runs_name_pattern", "name",
              postgresql_ops={"name": "varchar_pattern_ops"}).ddl_if(dialect="postgresql"),
    )

    id: Mapped[str] = mapped_column(RUN_ID, primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(256), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    user: Mapped[str] = mapped_column(String(128), index=True)
    start_time: Mapped[float] = mapped_column(Float, index=True)
    end_time: Mapped[float | None] = mapped_column(Float)
    heartbeat_at: Mapped[float] = mapped_column(Float)
    parent_run_id: Mapped[str | None] = mapped_column(
        ForeignKey("runs.id", ondelete="SET NULL"), index=True
    )
    # The process that started (owns) this run: "host:pid:proc-start-ticks". Processes that
    # attach later are listed in run_writers; they never take ownership.
    writer: Mapped[str | None] = mapped_column(String(256))
    environment_id: Mapped[int | None] = mapped_column(ForeignKey("environments.id"))
    # None = not checked; False = cells ran out of order / re-ran (see not_reproducible_reason).
    reproducible: Mapped[bool | None] = mapped_column(Boolean)
    not_reproducible_reason: Mapped[str | None] = mapped_column(Text)


class RunWriter(Base):
    """A process that attached to a run it did not start (``Client.attach_run``).

    The run stays owned by the process that created it (``runs.writer``). An attached
    process only keeps the run alive while it lives: a run is reaped once its owner *and*
    every attached writer are provably gone, or nobody sent a heartbeat for
    ``MLOPS_DEAD_AFTER_SECONDS``. An attached process exiting never ends the run.
    """

    __tablename__ = "run_writers"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    # Same "host:pid:proc-start-ticks" token as runs.writer.
    writer: Mapped[str] = mapped_column(String(256), primary_key=True)
    attached_at: Mapped[float] = mapped_column(Float)


class Param(Base):
    __tablename__ = "params"
    __table_args__ = (Index("ix_params_key_value", "key", "value"),)

    run_id: Mapped[str] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(String(6000))


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (Index("ix_tags_key_value", "key", "value"),)

    run_id: Mapped[str] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(String(6000))


class MetricChunk(Base):
    """A batch of consecutive points of one series, packed: the full history, never overwritten.

    One row per (run, key, flush) instead of one per point: logging 10^6 points writes a few
    dozen rows, and a series is read back (and downsampled) as arrays. ``data`` holds three
    little-endian arrays of ``n`` items: int64 steps, float64 values (NaN kept as NaN), float64
    timestamps — see :mod:`jupyter_mlops.store.metric_chunks`.
    """

    __tablename__ = "metric_chunks"
    __table_args__ = (Index("ix_metric_chunks_run_key", "run_id", "key", "id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(250))
    n: Mapped[int] = mapped_column(Integer)
    first_step: Mapped[int] = mapped_column(BigInteger)
    last_step: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class LatestMetric(Base):
    """The newest point of each series, kept in step with ``metrics`` so searches stay fast."""

    __tablename__ = "latest_metrics"
    __table_args__ = (Index("ix_latest_metrics_key_value", "key", "value"),)

    run_id: Mapped[str] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[float | None] = mapped_column(Float)
    step: Mapped[int] = mapped_column(BigInteger)
    timestamp: Mapped[float] = mapped_column(Float)
    count: Mapped[int] = mapped_column(BigInteger, default=1)


class RunChange(Base):
    """An append-only log of which run changed, for the in-memory search index (SQLite).

    Triggers created by migration 0005 (SQLite only) append ``run_id`` on every insert, update
    and delete of ``runs``, ``params``, ``tags`` and ``latest_metrics``, so a reader learns which
    runs changed since the ``seq`` it last saw with one range scan — whichever process or code
    path wrote them. SQLite serialises writers, so ``seq`` grows in commit order. Appending
    (not upserting per run) keeps the cost to ~2 µs per written row. Old entries are pruned
    (the newest is always kept, so ``seq`` never goes back); a reader that finds entries it had
    not seen pruned rebuilds from scratch. No foreign key: deletions are logged too. Derived
    data: ``jupyter mlops migrate`` does not copy it (the target's triggers rebuild it).
    """

    __tablename__ = "run_changes"
    __table_args__ = {"info": {"derived": True}}

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(RUN_ID)


class Artifact(Base):
    """A logical name in a run pointing at a content-addressed blob."""

    __tablename__ = "artifacts"
    __table_args__ = (UniqueConstraint("run_id", "name", name="uq_artifacts_run_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str | None] = mapped_column(
        ForeignKey("runs.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(1024))
    digest: Mapped[str] = mapped_column(DIGEST, index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32), default="artifact")
    created_at: Mapped[float] = mapped_column(Float)


class DatasetVersion(Base):
    __tablename__ = "dataset_versions"
    __table_args__ = (
        UniqueConstraint("name", "version", name="uq_dataset_versions_name_version"),
        UniqueConstraint("name", "digest", name="uq_dataset_versions_name_digest"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(256), index=True)
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(DIGEST)
    source: Mapped[str | None] = mapped_column(Text)
    size: Mapped[int | None] = mapped_column(BigInteger)
    row_count: Mapped[int | None] = mapped_column(BigInteger)
    schema: Mapped[dict | None] = mapped_column(JSON)
    stats: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)
    created_by_run_id: Mapped[str | None] = mapped_column(
        ForeignKey("runs.id", ondelete="SET NULL")
    )


class CodeSnapshot(Base):
    """The notebook (and git state) that produced a run."""

    __tablename__ = "code_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    notebook_path: Mapped[str | None] = mapped_column(Text)
    # Blob of the notebook JSON (nbformat v4); the digest is the notebook's content hash.
    digest: Mapped[str] = mapped_column(DIGEST)
    git_commit: Mapped[str | None] = mapped_column(String(64))
    git_branch: Mapped[str | None] = mapped_column(String(256))
    git_dirty: Mapped[bool | None] = mapped_column(Boolean)
    git_diff_digest: Mapped[str | None] = mapped_column(DIGEST)
    created_at: Mapped[float] = mapped_column(Float)


class LineageEdge(Base):
    """A directed edge ``src -> dst``: a dataset feeds a run, a run produces an artifact…

    Nodes are typed strings (``run``, ``dataset``, ``artifact``, ``model``, ``cell``) with
    string ids, so later components (registry, monitoring) add node types without a migration.
    """

    __tablename__ = "lineage_edges"
    __table_args__ = (
        UniqueConstraint(
            "src_type", "src_id", "dst_type", "dst_id", "relation", name="uq_lineage_edges_edge"
        ),
        Index("ix_lineage_src", "src_type", "src_id"),
        Index("ix_lineage_dst", "dst_type", "dst_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    src_type: Mapped[str] = mapped_column(String(32))
    src_id: Mapped[str] = mapped_column(String(256))
    dst_type: Mapped[str] = mapped_column(String(32))
    dst_id: Mapped[str] = mapped_column(String(256))
    relation: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[float] = mapped_column(Float)


# ---------------------------------------------------------------------------- model registry (C6)


class RegisteredModel(Base):
    __tablename__ = "registered_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    # Promotion gates for the `champion` alias, e.g. {"require_reproduced": true,
    # "require_better": {"metric": "accuracy", "direction": "max"}}.
    gate_policy: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("model_id", "version", name="uq_model_versions_model_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(
        ForeignKey("registered_models.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[str | None] = mapped_column(
        ForeignKey("runs.id", ondelete="SET NULL"), index=True)
    digest: Mapped[str] = mapped_column(DIGEST)  # the model file's blob
    size: Mapped[int] = mapped_column(BigInteger)
    # How to load it: "skops" (safe), "pickle" (only with trusted=True), …
    flavor: Mapped[str] = mapped_column(String(32))
    model_class: Mapped[str] = mapped_column(String(512))
    trusted_types: Mapped[list | None] = mapped_column(JSON)
    signature: Mapped[dict | None] = mapped_column(JSON)
    input_example: Mapped[dict | None] = mapped_column(JSON)
    metrics: Mapped[dict | None] = mapped_column(JSON)  # the run's metrics when registered
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float | None] = mapped_column(Float)  # description or tags changed


class RegisteredModelTag(Base):
    __tablename__ = "registered_model_tags"

    model_id: Mapped[int] = mapped_column(
        ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(String(5000))


class ModelVersionTag(Base):
    __tablename__ = "model_version_tags"

    version_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(String(5000))


class ModelAlias(Base):
    __tablename__ = "model_aliases"

    model_id: Mapped[int] = mapped_column(
        ForeignKey("registered_models.id", ondelete="CASCADE"), primary_key=True)
    alias: Mapped[str] = mapped_column(String(128), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"))
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[float] = mapped_column(Float)


class PromotionRequest(Base):
    __tablename__ = "promotion_requests"
    __table_args__ = (Index("ix_promotion_requests_model_status", "model_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("registered_models.id", ondelete="CASCADE"))
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))  # PENDING, APPROVED, REJECTED
    proposed_by: Mapped[str] = mapped_column(String(128))
    proposed_at: Mapped[float] = mapped_column(Float)
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[float | None] = mapped_column(Float)
    gate_verdict: Mapped[dict | None] = mapped_column(JSON)


class RoleAssignment(Base):
    """Which users hold which roles (data_scientist, ml_engineer, …)."""

    __tablename__ = "role_assignments"

    user: Mapped[str] = mapped_column(String(128), primary_key=True)
    role: Mapped[str] = mapped_column(String(64), primary_key=True)
    granted_by: Mapped[str | None] = mapped_column(String(128))
    granted_at: Mapped[float] = mapped_column(Float)


class RolePermission(Base):
    """Which roles may perform which action (``propose``, ``approve``, ``set_alias``…)."""

    __tablename__ = "role_permissions"

    role: Mapped[str] = mapped_column(String(64), primary_key=True)
    action: Mapped[str] = mapped_column(String(64), primary_key=True)


class AuditEvent(Base):
    """Who did what, when and why: every registry and schedule change."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_target", "target_type", "target_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    user: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(256))
    details: Mapped[dict | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)


# ---------------------------------------------------------------------------- pipelines (C3)


class Pipeline(Base):
    __tablename__ = "pipelines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    path: Mapped[str | None] = mapped_column(Text)
    spec: Mapped[dict] = mapped_column(JSON)
    spec_digest: Mapped[str] = mapped_column(DIGEST)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class PipelineRun(Base):
    __tablename__ = "pipeline_runs"
    __table_args__ = (Index("ix_pipeline_runs_pipeline_started", "pipeline_id", "started_at"),)

    id: Mapped[str] = mapped_column(RUN_ID, primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), index=True)
    parameters: Mapped[dict | None] = mapped_column(JSON)
    trigger: Mapped[str] = mapped_column(String(32))  # manual, schedule, alert, reproduce
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("schedules.id", ondelete="SET NULL"))
    executor: Mapped[str | None] = mapped_column(String(256))
    started_at: Mapped[float] = mapped_column(Float)
    ended_at: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)


class StepRun(Base):
    __tablename__ = "step_runs"
    __table_args__ = (
        UniqueConstraint("pipeline_run_id", "step", name="uq_step_runs_pipeline_run_step"),
        Index("ix_step_runs_cache_key_status", "cache_key", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pipeline_run_id: Mapped[str] = mapped_column(
        ForeignKey("pipeline_runs.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(256))
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    # PENDING, RUNNING, SUCCEEDED, FAILED, SKIPPED, CACHED
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cache_key: Mapped[str | None] = mapped_column(DIGEST)
    cached_from: Mapped[int | None] = mapped_column(ForeignKey("step_runs.id", ondelete="SET NULL"))
    outputs: Mapped[dict | None] = mapped_column(JSON)  # name -> {path, digest, size[, files]}
    notebook_digest: Mapped[str | None] = mapped_column(DIGEST)  # the executed notebook
    started_at: Mapped[float | None] = mapped_column(Float)
    ended_at: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)


class Schedule(Base):
    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    pipeline_path: Mapped[str] = mapped_column(Text)
    cron: Mapped[str] = mapped_column(String(128))
    timezone: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[dict | None] = mapped_column(JSON)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    next_fire_at: Mapped[float | None] = mapped_column(Float, index=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[float] = mapped_column(Float)


class ScheduleFire(Base):
    """One row per fired slot; the primary key makes each slot fire once across schedulers."""

    __tablename__ = "schedule_fires"

    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("schedules.id", ondelete="CASCADE"), primary_key=True)
    slot: Mapped[float] = mapped_column(Float, primary_key=True)
    fired_at: Mapped[float] = mapped_column(Float)
    fired_by: Mapped[str] = mapped_column(String(256))
    pipeline_run_id: Mapped[str | None] = mapped_column(
        ForeignKey("pipeline_runs.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16))  # FIRED, SKIPPED (missed while down), FAILED


# ---------------------------------------------------------------------------- monitoring (C9)


class Monitor(Base):
    """A watched model (``name@alias`` or ``name/version``) with its profiled reference data."""

    __tablename__ = "monitors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    model_name: Mapped[str] = mapped_column(String(256), index=True)
    model_ref: Mapped[str] = mapped_column(String(400))  # "churn@champion", "churn/3"
    # Content hash of the reference data (a dataset version's digest or a frame fingerprint).
    reference_digest: Mapped[str] = mapped_column(DIGEST)
    reference_dataset_id: Mapped[int | None] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="SET NULL"))
    profile_digest: Mapped[str] = mapped_column(DIGEST)  # blob of the reference profile
    # Window (rows or seconds), thresholds, task, keep_rows, sample rate…
    config: Mapped[dict] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class MonitorWindow(Base):
    """One closed window of logged predictions: what the per-window results belong to."""

    __tablename__ = "monitor_windows"
    __table_args__ = (
        UniqueConstraint("monitor_id", "seq", name="uq_monitor_windows_monitor_seq"),
        Index("ix_monitor_windows_monitor_end", "monitor_id", "end_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    start_at: Mapped[float] = mapped_column(Float)
    end_at: Mapped[float] = mapped_column(Float)
    rows: Mapped[int] = mapped_column(Integer)
    model_version: Mapped[int | None] = mapped_column(Integer)
    columns_checked: Mapped[int] = mapped_column(Integer)
    columns_drifted: Mapped[int] = mapped_column(Integer)
    summary: Mapped[dict | None] = mapped_column(JSON)  # schema issues, verdicts, sizes
    data_digest: Mapped[str | None] = mapped_column(DIGEST)  # raw rows as Parquet (optional)
    created_at: Mapped[float] = mapped_column(Float)


class MonitorResult(Base):
    """One measure of one feature (``""`` = the model) in one window: the time series."""

    __tablename__ = "monitor_results"
    __table_args__ = (
        UniqueConstraint("window_id", "feature", "measure", name="uq_monitor_results_point"),
        Index("ix_monitor_results_series", "monitor_id", "measure", "feature", "at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    window_id: Mapped[int] = mapped_column(ForeignKey("monitor_windows.id", ondelete="CASCADE"))
    feature: Mapped[str] = mapped_column(String(256))
    measure: Mapped[str] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Float)  # NULL stands for NaN
    drifted: Mapped[bool | None] = mapped_column(Boolean)
    at: Mapped[float] = mapped_column(Float)


class MonitorRecord(Base):
    """A logged prediction and (once it arrives) its ground truth, joined by the row id."""

    __tablename__ = "monitor_records"
    __table_args__ = (
        Index("ix_monitor_records_monitor_window", "monitor_id", "window_seq"),
        Index("ix_monitor_records_monitor_feedback", "monitor_id", "feedback_at"),
    )

    monitor_id: Mapped[int] = mapped_column(
        ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True)
    row_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    window_seq: Mapped[int | None] = mapped_column(Integer)
    ts: Mapped[float | None] = mapped_column(Float)
    model_version: Mapped[int | None] = mapped_column(Integer)
    # Numbers go in *_value (regression), class labels in *_label (classification).
    prediction_value: Mapped[float | None] = mapped_column(Float)
    prediction_label: Mapped[str | None] = mapped_column(String(256))
    actual_value: Mapped[float | None] = mapped_column(Float)
    actual_label: Mapped[str | None] = mapped_column(String(256))
    feedback_at: Mapped[float | None] = mapped_column(Float)


class AlertRule(Base):
    """``measure op threshold`` on a monitor (optionally one feature), maybe starting a pipeline."""

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    monitor_id: Mapped[int] = mapped_column(
        ForeignKey("monitors.id", ondelete="CASCADE"), index=True)
    measure: Mapped[str] = mapped_column(String(64))
    feature: Mapped[str | None] = mapped_column(String(256))  # None: any feature
    op: Mapped[str] = mapped_column(String(2))
    threshold: Mapped[float] = mapped_column(Float)
    pipeline: Mapped[str | None] = mapped_column(Text)  # path of a pipeline.yaml to run
    parameters: Mapped[dict | None] = mapped_column(JSON)
    cooldown_s: Mapped[float] = mapped_column(Float)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Claimed atomically (UPDATE … WHERE older than the cool-down) before a pipeline starts.
    last_triggered_at: Mapped[float | None] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[float] = mapped_column(Float)


class Alert(Base):
    """A rule that fired on a window, and what was done about it."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_monitor_at", "monitor_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[int] = mapped_column(
        ForeignKey("alert_rules.id", ondelete="CASCADE"), index=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    window_id: Mapped[int | None] = mapped_column(
        ForeignKey("monitor_windows.id", ondelete="SET NULL"))
    at: Mapped[float] = mapped_column(Float)
    measure: Mapped[str] = mapped_column(String(64))
    feature: Mapped[str | None] = mapped_column(String(256))
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text)
    # RECORDED (no pipeline), TRIGGERED, COOLDOWN (suppressed), FAILED (could not start)
    action: Mapped[str] = mapped_column(String(16))
    # Set before the pipeline's process starts, so no foreign key to pipeline_runs.
    pipeline_run_id: Mapped[str | None] = mapped_column(RUN_ID)


# ---------------------------------------------------------------------------- feature store (C4)


class FeatureView(Base):
    """One version of a feature view: its definition, schema and content-addressed data.

    A registration whose definition and data hash to a known ``digest`` is that version
    again; anything else (new rows, a changed schema, another TTL) is the next version, so a
    training set names exactly the data it joined.
    """

    __tablename__ = "feature_views"
    __table_args__ = (
        UniqueConstraint("name", "version", name="uq_feature_views_name_version"),
        UniqueConstraint("name", "digest", name="uq_feature_views_name_digest"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(256), index=True)
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(DIGEST)  # definition + data: what makes a version
    data_digest: Mapped[str] = mapped_column(DIGEST)  # content hash of the rows themselves
    blob_digest: Mapped[str] = mapped_column(DIGEST)  # the offline Parquet in the blob store
    schema: Mapped[dict] = mapped_column(JSON)  # column -> dtype, entity and timestamp too
    entity: Mapped[list] = mapped_column(JSON)  # entity key column names, in key order
    timestamp_column: Mapped[str] = mapped_column(String(256))
    features: Mapped[list] = mapped_column(JSON)
    ttl_seconds: Mapped[float | None] = mapped_column(Float)
    description: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)  # where the rows came from, for people
    rows: Mapped[int] = mapped_column(BigInteger)
    entities: Mapped[int] = mapped_column(BigInteger)  # distinct entity keys
    # Event-time range of the rows, ns since the epoch (UTC for tz-aware timestamps).
    min_event_ns: Mapped[int | None] = mapped_column(BigInteger)
    max_event_ns: Mapped[int | None] = mapped_column(BigInteger)
    dataset_id: Mapped[int | None] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="SET NULL"))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[float] = mapped_column(Float)


class FeatureStat(Base):
    """Summary statistics of one feature of one view version (panel, monitoring reference)."""

    __tablename__ = "feature_stats"

    view_id: Mapped[int] = mapped_column(
        ForeignKey("feature_views.id", ondelete="CASCADE"), primary_key=True)
    feature: Mapped[str] = mapped_column(String(256), primary_key=True)
    dtype: Mapped[str] = mapped_column(String(64))
    stats: Mapped[dict] = mapped_column(JSON)


class FeatureOnline(Base):
    """The latest materialized values of one entity in one view version (online lookup).

    ``values_json`` is one JSON object per entity (NaN written as null), so a lookup of many
    keys is one indexed read; ``event_ns`` is the event time those values are from, and an
    upsert only ever replaces a row with a newer event.
    """

    __tablename__ = "feature_online"
    # SQLite: the primary key IS the table (one B-tree probe per key, not index + row).
    __table_args__ = {"sqlite_with_rowid": False}

    view_id: Mapped[int] = mapped_column(
        ForeignKey("feature_views.id", ondelete="CASCADE"), primary_key=True)
    entity_key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    event_ns: Mapped[int] = mapped_column(BigInteger)
    values_json: Mapped[str] = mapped_column(Text)


class FeatureMaterialization(Base):
    """How far a view version is materialized: the event-time watermark, committed with rows.

    Each chunk of rows and the watermark after it are written in one transaction, so a killed
    ``materialize`` resumes after the last chunk it committed.
    """

    __tablename__ = "feature_materializations"

    view_id: Mapped[int] = mapped_column(
        ForeignKey("feature_views.id", ondelete="CASCADE"), primary_key=True)
    watermark_ns: Mapped[int | None] = mapped_column(BigInteger)
    rows_written: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


# ---------------------------------------------------------------------------- notifications


class Webhook(Base):
    """A URL told about events in this store (run finished/failed, alerts, promotions…).

    ``secret`` signs each payload (HMAC-SHA256); it is read only to sign and never returned
    by the store's records. ``events`` is the list of event names it wants, ``format``
    ``json`` or ``slack``.
    """

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str | None] = mapped_column(Text)
    events: Mapped[list] = mapped_column(JSON)
    format: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[float] = mapped_column(Float)


class WebhookDelivery(Base):
    """One attempt to deliver one event to one webhook: when, the HTTP status, the error."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_webhook_at", "webhook_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    delivery: Mapped[str] = mapped_column(String(64), index=True)  # one id per event+hook
    event: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[float] = mapped_column(Float)
    status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    delivered: Mapped[bool] = mapped_column(Boolean)


# ---------------------------------------------------------------------------- sync (issue 18)


class StoreIdentity(Base):
    """This store's own id (one row, written by migration 0009): how two stores that sync
    tell each other apart, and how a sync to itself is recognised. Not copied by ``migrate``
    (a copy is another store)."""

    __tablename__ = "store_identity"
    __table_args__ = {"info": {"derived": True}}

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[float] = mapped_column(Float)


class SyncMark(Base):
    """How far sync got with one peer store (see :mod:`jupyter_mlops.store.sync`).

    In a source: what it pushed to the peer (written after the peer committed); in a target:
    what it received from the peer (written in the same transaction as the rows, the record a
    rerun trusts). ``name`` is a cursor (``run_changes``, ``artifacts``…) or ``alias:<hash>``,
    whose ``position`` is the version number this store's alias agreed with the peer's.
    """

    __tablename__ = "sync_marks"
    __table_args__ = {"info": {"derived": True}}

    peer: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[float] = mapped_column(Float)


class SyncOrigin(Base):
    """A run that arrived by sync, and the store that created it (its owner)."""

    __tablename__ = "sync_origins"
    __table_args__ = {"info": {"derived": True}}

    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    peer: Mapped[str] = mapped_column(String(32))
