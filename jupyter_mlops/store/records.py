"""Frozen dataclasses: what the store hands to the rest of the package (never ORM rows)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

# Stdlib-only formatting below the store: records render without importing upward.
from jupyter_mlops import display

RUN_STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED")


class Record:
    """Mixin: JSON-ready ``to_dict`` for REST, CLI ``--format json`` and widgets."""

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(dataclasses.asdict(self))


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def build_record(cls: type, fields: dict[str, Any]) -> Any:
    """``cls(**fields)`` for a frozen record, without its per-field ``object.__setattr__``.

    A frozen dataclass's ``__init__`` costs ~3 µs for a run's 14 fields — most of a search
    answer served from memory. ``fields`` must name every field, as ``__init__`` would demand;
    equality, hashing and ``repr`` read ``__dict__`` and are unaffected.
    """
    record = object.__new__(cls)
    record.__dict__.update(fields)
    return record


@dataclasses.dataclass(frozen=True)
class ExperimentRecord(Record):
    id: int
    name: str
    description: str | None
    created_at: float
    #: ``active`` or ``deleted`` (a deleted experiment hides and takes no runs until restored).
    lifecycle_stage: str = "active"
    #: When it was last renamed, deleted, restored or tagged (None: never).
    updated_at: float | None = None
    tags: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class RunRecord(Record):
    id: str
    experiment_id: int
    experiment: str
    name: str
    status: str
    user: str
    start_time: float
    end_time: float | None
    parent_run_id: str | None
    reproducible: bool | None
    not_reproducible_reason: str | None
    params: dict[str, str] = dataclasses.field(default_factory=dict)
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    tags: dict[str, str] = dataclasses.field(default_factory=dict)

    def __str__(self) -> str:
        return display.run_text(self)

    def _repr_pretty_(self, p, cycle) -> None:  # IPython's text view: the summary, too
        p.text(str(self))

    def _repr_html_(self) -> str:
        return display.run_html(self)


@dataclasses.dataclass(frozen=True)
class MetricPoint(Record):
    step: int
    value: float
    timestamp: float


@dataclasses.dataclass(frozen=True)
class ArtifactRecord(Record):
    id: int
    run_id: str | None
    name: str
    digest: str
    size: int
    media_type: str
    kind: str
    created_at: float


@dataclasses.dataclass(frozen=True)
class DatasetVersionRecord(Record):
    id: int
    name: str
    version: int
    digest: str
    source: str | None
    size: int | None
    row_count: int | None
    schema: dict | None
    stats: dict | None
    created_at: float
    created_by_run_id: str | None
    #: How the run this record was fetched for used it ("input"/"output"), when it applies.
    role: str | None = None


@dataclasses.dataclass(frozen=True)
class CodeSnapshotRecord(Record):
    id: int
    run_id: str
    notebook_path: str | None
    digest: str
    git_commit: str | None
    git_branch: str | None
    git_dirty: bool | None
    git_diff_digest: str | None
    created_at: float


@dataclasses.dataclass(frozen=True)
class EnvironmentRecord(Record):
    id: int
    digest: str
    python: str
    platform: str
    packages: dict[str, str]


@dataclasses.dataclass(frozen=True)
class RunDetail(Record):
    run: RunRecord
    metric_keys: list[str]
    artifacts: list[ArtifactRecord]
    datasets: list[DatasetVersionRecord]
    code: CodeSnapshotRecord | None
    environment: EnvironmentRecord | None
    children: list[str]

    # Convenience so `mlops.get_run(id).params` reads like MLflow.
    @property
    def id(self) -> str:
        return self.run.id

    @property
    def status(self) -> str:
        return self.run.status

    @property
    def params(self) -> dict[str, str]:
        return self.run.params

    @property
    def metrics(self) -> dict[str, float]:
        return self.run.metrics

    @property
    def tags(self) -> dict[str, str]:
        return self.run.tags

    @property
    def name(self) -> str:
        return self.run.name

    @property
    def experiment(self) -> str:
        return self.run.experiment

    @property
    def parent_run_id(self) -> str | None:
        return self.run.parent_run_id

    @property
    def start_time(self) -> float:
        return self.run.start_time

    @property
    def end_time(self) -> float | None:
        return self.run.end_time

    def __str__(self) -> str:
        return display.detail_text(self)

    def _repr_pretty_(self, p, cycle) -> None:  # IPython's text view: the summary, too
        p.text(str(self))

    def _repr_html_(self) -> str:
        return display.detail_html(self)


@dataclasses.dataclass(frozen=True)
class LineageNode(Record):
    id: str  # "type:ident", e.g. "run:3f2a…", "dataset:12"
    type: str
    label: str


@dataclasses.dataclass(frozen=True)
class LineageEdgeRecord(Record):
    src: str
    dst: str
    relation: str


@dataclasses.dataclass(frozen=True)
class LineageGraph(Record):
    root: str
    nodes: list[LineageNode]
    edges: list[LineageEdgeRecord]

    def upstream(self, node_id: str | None = None) -> set[str]:
        """Ids of every node that feeds ``node_id`` (default: the root)."""
        return _reach(node_id or self.root, {(e.dst, e.src) for e in self.edges})

    def downstream(self, node_id: str | None = None) -> set[str]:
        """Ids of every node fed by ``node_id`` (default: the root)."""
        return _reach(node_id or self.root, {(e.src, e.dst) for e in self.edges})

    def __str__(self) -> str:
        return display.lineage_text(self)

    def _repr_pretty_(self, p, cycle) -> None:  # IPython's text view: the summary, too
        p.text(str(self))

    def _repr_html_(self) -> str:
        return display.lineage_html(self)


def _reach(start: str, pairs: set[tuple[str, str]]) -> set[str]:
    nxt: dict[str, list[str]] = {}
    for a, b in pairs:
        nxt.setdefault(a, []).append(b)
    seen: set[str] = set()
    stack = [start]
    while stack:
        for b in nxt.get(stack.pop(), ()):
            if b not in seen:
                seen.add(b)
                stack.append(b)
    return seen
