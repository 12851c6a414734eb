"""Experiments: create, list, rename, delete and restore (nothing is erased), and tag them.

The lifecycle is MLflow's: a deleted experiment leaves listings (``lifecycle="deleted"`` or
``"all"`` shows it), takes no new runs, and comes back whole with :meth:`restore_experiment`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jupyter_mlops.store.records import ExperimentRecord

if TYPE_CHECKING:
    from jupyter_mlops.store import Store


class ExperimentsAdmin:
    """Mixed into :class:`~jupyter_mlops.client.runs.RunsClient`."""

    store: Store

    def list_experiments(self, lifecycle: str = "active") -> list[ExperimentRecord]:
        """Experiments by name: ``active`` (default), ``deleted`` or ``all``."""
        return self.store.runs.list_experiments(lifecycle)

    def create_experiment(self, name: str) -> ExperimentRecord:
        """The experiment ``name``, created if new (ConflictError if it is deleted)."""
        return self.store.runs.get_or_create_experiment(name)

    def get_experiment(self, experiment_id: int) -> ExperimentRecord:
        """One experiment by id, deleted or not, with its tags."""
        return self.store.runs.get_experiment(experiment_id)

    def rename_experiment(self, experiment_id: int, name: str) -> ExperimentRecord:
        """Rename; AlreadyExistsError if the name is taken (also by a deleted experiment)."""
        return self.store.runs.rename_experiment(experiment_id, name)

    def delete_experiment(self, experiment_id: int) -> ExperimentRecord:
        """Hide an experiment and refuse new runs in it; its runs and files are kept."""
        return self.store.runs.set_experiment_lifecycle(experiment_id, "deleted")

    def restore_experiment(self, experiment_id: int) -> ExperimentRecord:
        """Bring a deleted experiment back, as it was."""
        return self.store.runs.set_experiment_lifecycle(experiment_id, "active")

    def set_experiment_tag(self, experiment_id: int, key: str, value: str) -> None:
        self.store.runs.set_experiment_tag(experiment_id, key, value)

    def delete_experiment_tag(self, experiment_id: int, key: str) -> None:
        self.store.runs.delete_experiment_tag(experiment_id, key)
