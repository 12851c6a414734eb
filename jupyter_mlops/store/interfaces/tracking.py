"""Contracts of the tracking metadata: runs and their values, the catalog, the lineage graph."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # MetricRow lives beside its implementation, which imports this module
    from jupyter_mlops.store.records import (
        ArtifactRecord,
        CodeSnapshotRecord,
        DatasetVersionRecord,
        EnvironmentRecord,
        ExperimentRecord,
        LineageGraph,
        MetricPoint,
        RunRecord,
    )
    from jupyter_mlops.store.runs import MetricRow


class AbstractRunStore(abc.ABC):
    """Experiments, runs, and the params, metrics and tags logged to them.

    A run id that is not stored is a :class:`~jupyter_mlops.errors.NotFoundError` for every
    method that reads or changes one run, unless its docstring says otherwise.
    """

    # ----------------------------------------------------------------- experiments
    @abc.abstractmethod
    def get_or_create_experiment(self, name: str | None) -> ExperimentRecord:
        """Return the experiment ``name`` (the default one for None), creating it if new; race-safe."""

    @abc.abstractmethod
    def list_experiments(self, lifecycle: str = "active") -> list[ExperimentRecord]:
        """The experiments in ``lifecycle`` (``active``, ``deleted`` or ``all``), by name."""

    @abc.abstractmethod
    def get_experiment(self, experiment_id: int) -> ExperimentRecord:
        """One experiment by id, deleted or not (NotFoundError if there is none)."""

    @abc.abstractmethod
    def rename_experiment(self, experiment_id: int, name: str) -> ExperimentRecord:
        """Rename; AlreadyExistsError if another experiment (even a deleted one) has ``name``.

        The default experiment keeps its name (MLflow clients know it as id 0)."""

    @abc.abstractmethod
    def set_experiment_lifecycle(self, experiment_id: int, stage: str) -> ExperimentRecord:
        """Delete (``deleted``) or restore (``active``) an experiment; nothing is erased.

        A deleted experiment hides (and, to MLflow clients, its runs) and refuses new runs.
        The default experiment cannot be deleted."""

    @abc.abstractmethod
    def set_experiment_tag(self, experiment_id: int, key: str, value: str) -> None:
        """Set (or overwrite) one tag of an experiment."""

    @abc.abstractmethod
    def delete_experiment_tag(self, experiment_id: int, key: str) -> None:
        """Remove one tag; NotFoundError if the experiment has no such tag."""

    # ----------------------------------------------------------------- run lifecycle
    @abc.abstractmethod
    def create_run(
        self, *, experiment: str | None, name: str | None, user: str,
        parent_run_id: str | None = None, tags: dict[str, str] | None = None,
        environment_id: int | None = None, run_id: str | None = None,
        start_time: float | None = None,
    ) -> RunRecord:
        """Start a RUNNING run owned by this process (a fresh id unless ``run_id`` is given).

        It starts now unless ``start_time`` (epoch seconds) is given."""

    @abc.abstractmethod
    def attach(self, run_id: str) -> RunRecord:
        """Register this process as an extra writer of an existing run, without taking ownership."""

    @abc.abstractmethod
    def end_run(self, run_id: str, status: str = "FINISHED",
                end_time: float | None = None) -> None:
        """End a run as FINISHED, FAILED or KILLED (InvalidInputError for any other status).

        It ends at ``end_time`` (epoch seconds), or now."""

    @abc.abstractmethod
    def rename_run(self, run_id: str, name: str) -> RunRecord:
        """Give a run a new 1–256 character name and return it."""

    @abc.abstractmethod
    def mark_not_reproducible(self, run_id: str, reason: str) -> None:
        """Record why a run cannot be reproduced (cells ran out of order, …); unknown ids are ignored."""

    @abc.abstractmethod
    def mark_reproducible(self, run_id: str) -> None:
        """Record that a run's cells ran top to bottom, unless it is already marked either way."""

    @abc.abstractmethod
    def heartbeat(self, run_ids: Sequence[str]) -> None:
        """Refresh the heartbeat of those of ``run_ids`` still RUNNING."""

    @abc.abstractmethod
    def reap_dead_runs(self, dead_after_s: float) -> list[str]:
        """Mark RUNNING runs whose writers are gone KILLED; return exactly the ids this call changed."""

    @abc.abstractmethod
    def writers_of(self, run_id: str) -> tuple[str | None, list[str]]:
        """The run's owner token and the tokens of processes attached to it, oldest first."""

    @abc.abstractmethod
    def delete_run(self, run_id: str) -> None:
        """Delete a run with everything logged to it."""

    @abc.abstractmethod
    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove one tag of a run; NotFoundError naming the run or the tag when absent."""

    # ----------------------------------------------------------------- values
    @abc.abstractmethod
    def log_batch(
        self, run_id: str, *, params: Iterable[tuple[str, str]] = (),
        metrics: Sequence[MetricRow] = (), tags: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Write params, metrics and tags of one run in one transaction: all of them or none."""

    # ----------------------------------------------------------------- reads
    @abc.abstractmethod
    def get_run(self, run_id: str) -> RunRecord:
        """One run with its params, latest metrics and tags."""

    @abc.abstractmethod
    def search_runs(
        self, filter: str | None = None, experiment: str | None = None,
        order_by: Sequence[str] | str | None = None, max_results: int = 100, offset: int = 0,
        *, lifecycle: str = "active",
    ) -> list[RunRecord]:
        """Runs matching ``filter`` (newest first unless ``order_by``), one page of ``max_results``.

        ``lifecycle`` picks runs by their experiment's lifecycle, as MLflow's run view type:
        ``active`` (the default: runs of a deleted experiment are hidden until it is
        restored), ``deleted`` or ``all``. :meth:`get_run` reads any run by its id.
        """

    @abc.abstractmethod
    def count_runs(self, filter: str | None = None, experiment: str | None = None, *,
                   lifecycle: str = "active") -> int:
        """How many runs :meth:`search_runs` would page through for the same arguments."""

    @abc.abstractmethod
    def child_run_ids(self, run_id: str) -> list[str]:
        """The ids of the runs whose parent is ``run_id``, oldest first."""

    @abc.abstractmethod
    def latest_points(self, run_ids: Sequence[str]) -> dict[str, dict[str, MetricPoint]]:
        """``{run id: {metric key: its latest point}}`` (unknown ids are left out)."""

    @abc.abstractmethod
    def metric_keys(self, run_id: str) -> list[str]:
        """Names of the metrics logged to a run, sorted; empty for an unknown run."""

    @abc.abstractmethod
    def metric_history(self, run_id: str, key: str, max_points: int | None = None
                       ) -> list[MetricPoint]:
        """Every point of one series in step order; above ``max_points``, a downsample of real points."""

    @abc.abstractmethod
    def run_ids_with_status(self, status: str) -> list[str]:
        """Ids of every run in ``status``."""

    @abc.abstractmethod
    def require_running(self, run_id: str) -> None:
        """Return if the run is RUNNING; ConflictError saying to start a new run otherwise."""


class AbstractCatalogStore(abc.ABC):
    """What a run used and made: artifacts, dataset versions, code snapshots, environments."""

    @abc.abstractmethod
    def add_artifact(self, run_id: str | None, name: str, digest: str, size: int,
                     media_type: str, kind: str = "artifact") -> ArtifactRecord:
        """Record (or re-point) artifact ``name`` of ``run_id`` at a stored blob, with its lineage edge."""

    @abc.abstractmethod
    def get_artifact(self, run_id: str | None, name: str) -> ArtifactRecord:
        """The artifact ``name`` of ``run_id``; NotFoundError if there is none."""

    @abc.abstractmethod
    def get_artifact_by_id(self, artifact_id: int) -> ArtifactRecord:
        """The artifact with this id; NotFoundError if there is none."""

    @abc.abstractmethod
    def list_artifacts(self, run_id: str) -> list[ArtifactRecord]:
        """A run's artifacts, ordered by name."""

    @abc.abstractmethod
    def delete_artifacts(self, run_id: str, path: str = "") -> int:
        """Forget artifact ``path`` of ``run_id``, or all below folder ``path`` ("": all); the count.

        Nothing there is not an error (0). The blobs stay until garbage collection finds
        nothing else pointing at them."""

    @abc.abstractmethod
    def referenced_digests(self) -> set[str]:
        """Every blob digest a catalog row still points at (what garbage collection must keep)."""

    @abc.abstractmethod
    def digest_users(self, digests: Iterable[str]) -> dict[str, list[str]]:
        """For each digest, the artifacts and model versions pointing at it, as report phrases."""

    @abc.abstractmethod
    def add_dataset_version(self, name: str, digest: str, *, source: str | None,
                            size: int | None, row_count: int | None, schema: dict | None,
                            stats: dict | None, run_id: str | None) -> DatasetVersionRecord:
        """Return the version of ``name`` with this content, creating version N+1 if it is new."""

    @abc.abstractmethod
    def find_dataset_version(self, name: str, digest: str) -> DatasetVersionRecord | None:
        """The version of ``name`` with this content, or None."""

    @abc.abstractmethod
    def get_dataset(self, name: str, version: int | None = None) -> DatasetVersionRecord:
        """One version of a dataset (the latest for None); NotFoundError if absent."""

    @abc.abstractmethod
    def list_dataset_versions(self, name: str | None = None) -> list[DatasetVersionRecord]:
        """Versions of one dataset (or of all), by name then version."""

    @abc.abstractmethod
    def datasets_of_run(self, run_id: str) -> list[DatasetVersionRecord]:
        """Dataset versions a run used (role ``input``) or produced (role ``output``)."""

    @abc.abstractmethod
    def add_code_snapshot(self, run_id: str, digest: str, *, notebook_path: str | None,
                          git_commit: str | None = None, git_branch: str | None = None,
                          git_dirty: bool | None = None,
                          git_diff_digest: str | None = None) -> CodeSnapshotRecord:
        """Record the notebook and git state a run was executed from."""

    @abc.abstractmethod
    def code_snapshot(self, run_id: str) -> CodeSnapshotRecord | None:
        """The newest code snapshot of a run, or None."""

    @abc.abstractmethod
    def get_or_create_environment(self, digest: str, python: str, platform: str,
                                  packages: dict[str, str]) -> int:
        """The id of the environment with this digest, created if new; race-safe."""

    @abc.abstractmethod
    def environment_of_run(self, run_id: str) -> EnvironmentRecord | None:
        """The environment a run recorded, or None."""

    @abc.abstractmethod
    def set_run_environment(self, run_id: str, environment_id: int) -> None:
        """Point a run at a recorded environment."""


class AbstractLineageStore(abc.ABC):
    """Directed edges between runs, artifacts, datasets and models (``type:id`` nodes)."""

    @abc.abstractmethod
    def add_edge(self, src_type: str, src_id: str, dst_type: str, dst_id: str,
                 relation: str) -> None:
        """Record ``src --relation--> dst``; recording the same edge twice keeps one."""

    @abc.abstractmethod
    def sources_of(self, node: str, src_type: str, relation: str) -> list[str]:
        """Ids of the ``src_type`` nodes with a ``relation`` edge into ``node`` (one hop)."""

    @abc.abstractmethod
    def graph(self, node: str, depth: int = 10) -> LineageGraph:
        """Everything upstream and downstream of ``node`` within ``depth`` hops."""
