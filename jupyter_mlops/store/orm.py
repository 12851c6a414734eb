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
        Index("ix_runs_status_heartbeat", "status", "heartbeat_at"),
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
    # Which process writes this run: "host:pid:proc-start-ticks". A run whose writer is gone is KILLED.
    writer: Mapped[str | None] = mapped_column(String(256))
    environment_id: Mapped[int | None] = mapped_column(ForeignKey("environments.id"))
    # None = not checked; False = cells ran out of order / re-ran (see not_reproducible_reason).
    reproducible: Mapped[bool | None] = mapped_column(Boolean)
    not_reproducible_reason: Mapped[str | None] = mapped_column(Text)


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


class Metric(Base):
    """Every logged point: the full history, never overwritten."""

    __tablename__ = "metrics"
    __table_args__ = (Index("ix_metrics_run_key_step", "run_id", "key", "step"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(250))
    # NULL stands for NaN: SQLite cannot store NaN, and a diverged loss must not be lost.
    value: Mapped[float | None] = mapped_column(Float)
    step: Mapped[int] = mapped_column(BigInteger)
    timestamp: Mapped[float] = mapped_column(Float)


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
