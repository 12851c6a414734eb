"""Experiments as MLflow has them: renamed, deleted and restored (a lifecycle, nothing erased)
and tagged. Mixed into :class:`~jupyter_mlops.store.runs.RunStore`.

A rename or lifecycle change also appends one entry to ``run_changes`` for a run of the
experiment, so a live search index (:mod:`.run_index`) re-reads the experiment names.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update

from jupyter_mlops.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from jupyter_mlops.store.engine import now, read_connection, upsert, write_connection
from jupyter_mlops.store.lite import DEFAULT_EXPERIMENT, refuse_deleted  # noqa: F401
from jupyter_mlops.store.orm import Experiment, ExperimentTag, Run, RunChange
from jupyter_mlops.store.records import ExperimentRecord
from jupyter_mlops.validation import check_key, check_text

LIFECYCLES = ("active", "deleted")
#: MLflow's limit for an experiment tag's value (mlflow/utils/validation.py).
MAX_TAG_VALUE = 5000


def check_experiment_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 256 \
            or not name.isprintable() or name != name.strip():
        raise InvalidInputError(
            "Experiment names are 1–256 printable characters, without spaces at either end; "
            f"got {str(name)[:60]!r}.")
    return name


def _record(row, tags: dict[str, str] | None = None) -> ExperimentRecord:
    return ExperimentRecord(row.id, row.name, row.description, row.created_at,
                            lifecycle_stage=row.lifecycle_stage or "active",
                            updated_at=row.updated_at, tags=tags or {})


class ExperimentAdmin:
    """Experiment lifecycle and tags; expects ``self.url`` and the ``_experiments`` cache."""

    url: str
    _experiments: dict[str, ExperimentRecord]

    def list_experiments(self, lifecycle: str = "active") -> list[ExperimentRecord]:
        if lifecycle not in ("active", "deleted", "all"):
            raise InvalidInputError(
                f"lifecycle is 'active', 'deleted' or 'all'; got {str(lifecycle)[:30]!r}.")
        stmt = select(Experiment.__table__).order_by(Experiment.name)
        if lifecycle != "all":
            stmt = stmt.where(Experiment.lifecycle_stage == lifecycle)
        with read_connection(self.url) as conn:
            rows = conn.execute(stmt).all()
            tags: dict[int, dict[str, str]] = {}
            for exp_id, key, value in conn.execute(select(
                    ExperimentTag.experiment_id, ExperimentTag.key, ExperimentTag.value)
                    .order_by(ExperimentTag.key)):
                tags.setdefault(exp_id, {})[key] = value
        return [_record(r, tags.get(r.id)) for r in rows]

    def get_experiment(self, experiment_id: int) -> ExperimentRecord:
        with read_connection(self.url) as conn:
            row = self._experiment_row(conn, experiment_id)
            tags = dict(conn.execute(select(ExperimentTag.key, ExperimentTag.value).where(
                ExperimentTag.experiment_id == row.id).order_by(ExperimentTag.key)).all())
        return _record(row, tags)

    @staticmethod
    def _experiment_row(conn, experiment_id: int):
        if isinstance(experiment_id, bool) or not isinstance(experiment_id, int):
            raise InvalidInputError(f"Experiment ids are integers; got {experiment_id!r}.")
        row = conn.execute(select(Experiment.__table__).where(
            Experiment.id == experiment_id)).first()
        if row is None:
            raise NotFoundError(f"No experiment with id {experiment_id}. List them with "
                                "`jupyter mlops runs list` or `Client().list_experiments()`.")
        return row

    def _changed(self, conn, experiment_id: int, **values) -> None:
        conn.execute(update(Experiment).where(Experiment.id == experiment_id)
                     .values(updated_at=now(), **values))
        run_id = conn.execute(select(Run.id).where(Run.experiment_id == experiment_id)
                              .limit(1)).scalar()
        if run_id is not None:
            conn.execute(RunChange.__table__.insert().values(run_id=run_id))
        self._experiments.clear()  # cached by name: one rename or delete makes them stale

    def rename_experiment(self, experiment_id: int, name: str) -> ExperimentRecord:
        name = check_experiment_name(name)
        with write_connection(self.url) as conn:
            row = self._experiment_row(conn, experiment_id)
            if row.name == name:
                return self.get_experiment(experiment_id)
            if DEFAULT_EXPERIMENT in (row.name, name):
                raise InvalidInputError(
                    f"The default experiment {DEFAULT_EXPERIMENT!r} keeps its name, and no "
                    "other takes it (MLflow clients know it as experiment 0).")
            taken = conn.execute(select(Experiment.id, Experiment.lifecycle_stage).where(
                Experiment.name == name)).first()
            if taken is not None:
                state = " (deleted: restore or rename it first)" \
                    if taken.lifecycle_stage == "deleted" else ""
                raise AlreadyExistsError(
                    f"Experiment {name!r} already exists{state}; choose another name.")
            self._changed(conn, row.id, name=name)
        return self.get_experiment(experiment_id)

    def set_experiment_lifecycle(self, experiment_id: int, stage: str) -> ExperimentRecord:
        if stage not in LIFECYCLES:
            raise InvalidInputError(f"An experiment is 'active' or 'deleted'; got {stage!r}.")
        with write_connection(self.url) as conn:
            row = self._experiment_row(conn, experiment_id)
            if stage == "deleted" and row.name == DEFAULT_EXPERIMENT:
                raise InvalidInputError(
                    f"The default experiment {DEFAULT_EXPERIMENT!r} cannot be deleted (runs "
                    "logged without an experiment go there).")
            if row.lifecycle_stage != stage:
                self._changed(conn, row.id, lifecycle_stage=stage)
        return self.get_experiment(experiment_id)

    def set_experiment_tag(self, experiment_id: int, key: str, value: str) -> None:
        key = check_key(key, "experiment tag key")
        if not isinstance(value, str):
            raise InvalidInputError(f"Tag values are strings; got {type(value).__name__}.")
        check_text(value, f"value of experiment tag {key!r}", MAX_TAG_VALUE)
        with write_connection(self.url) as conn:
            row = self._experiment_row(conn, experiment_id)
            stmt = upsert(conn, ExperimentTag.__table__).values(
                experiment_id=row.id, key=key, value=value)
            conn.execute(stmt.on_conflict_do_update(
                index_elements=["experiment_id", "key"], set_={"value": value}))
            conn.execute(update(Experiment).where(Experiment.id == row.id)
                         .values(updated_at=now()))

    def delete_experiment_tag(self, experiment_id: int, key: str) -> None:
        key = check_key(key, "experiment tag key")
        with write_connection(self.url) as conn:
            row = self._experiment_row(conn, experiment_id)
            gone = conn.execute(delete(ExperimentTag).where(
                ExperimentTag.experiment_id == row.id, ExperimentTag.key == key)).rowcount
            if not gone:
                raise NotFoundError(f"Experiment {row.name!r} has no tag {key!r}.")
            conn.execute(update(Experiment).where(Experiment.id == row.id)
                         .values(updated_at=now()))
