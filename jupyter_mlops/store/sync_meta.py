"""Sync of what describes runs and models rather than records them: experiment tags and
lifecycle (deleted/restored), registered-model and model-version tags and descriptions.

These rows have no owner the way runs do; each carries the time it last changed
(``updated_at`` of the experiment, model or version), and that decides, per key:

- A key the target lacks is added, unless the target deleted it since the last sync and
  the source still has the value both agreed on then (:mod:`.sync_deletions`).
- A different value is taken from the source only when the source's object changed after
  the target's (never overwriting newer data on the other side); otherwise the target's
  value is kept and the report says so in one note (not a conflict: without a record of
  the last agreed value, "changed at the target only" cannot be told from "changed on both
  sides", and the first is the usual case — a pull brings the target's value back).
- An experiment deleted or restored at the source is deleted or restored at the target
  under the same rule; when the target changed later its state is kept (one note).
- Keys deleted at the source: :mod:`.sync_deletions`, after this module wrote.

Experiments move by name: the runs bring theirs, and an experiment the target lacks (one
without runs yet) is created there with its tags and lifecycle; models and versions as
:mod:`.sync_catalog` maps them. Everything is
written in the sync's one target transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select, update

from jupyter_mlops.store.engine import upsert
from jupyter_mlops.store.orm import (
    Experiment, ExperimentTag, ModelVersion, ModelVersionTag, RegisteredModel,
    RegisteredModelTag, Run, RunChange,
)


# ---------------------------------------------------------------------------- reading
def experiment_state(conn: Connection) -> dict[str, dict]:
    """``{name: row + {"tags": {...}}}`` of every experiment."""
    rows = {r["id"]: dict(r, tags={}) for r in conn.execute(
        select(Experiment.__table__)).mappings()}
    for eid, key, value in conn.execute(select(ExperimentTag.experiment_id, ExperimentTag.key,
                                               ExperimentTag.value)):
        if eid in rows:
            rows[eid]["tags"][key] = value
    return {r["name"]: r for r in rows.values()}


def registry_tags(conn: Connection) -> tuple[dict[str, dict], dict[tuple[str, int], dict]]:
    """``({model: tags}, {(model, version number): tags})``."""
    names = dict(conn.execute(select(RegisteredModel.id, RegisteredModel.name)).all())
    models: dict[str, dict] = {}
    for mid, key, value in conn.execute(select(
            RegisteredModelTag.model_id, RegisteredModelTag.key, RegisteredModelTag.value)):
        models.setdefault(names[mid], {})[key] = value
    versions: dict[tuple[str, int], dict] = {}
    for model_id, number, key, value in conn.execute(select(
            ModelVersion.model_id, ModelVersion.version, ModelVersionTag.key,
            ModelVersionTag.value).join(ModelVersion,
                                        ModelVersion.id == ModelVersionTag.version_id)):
        versions.setdefault((names[model_id], number), {})[key] = value
    return models, versions


def _changed_at(row: dict) -> float:
    return row.get("updated_at") or row.get("created_at") or 0.0


def _merge(theirs: dict, ours: dict, source_newer: bool, what: str,
           notes: list[str], deleted_there=None) -> dict[str, str]:
    """The tags to write at the target (see the module docstring); kept values noted.
    ``deleted_there(key, value)``: the target deleted the key since the last sync."""
    out = {}
    for key, value in sorted(theirs.items()):
        have = ours.get(key)
        if have is None:
            if deleted_there is None or not deleted_there(key, value):
                out[key] = value
        elif have != value:
            if source_newer:
                out[key] = value
            else:
                notes.append(
                    f"tag {key!r} of {what} differs and the target changed later: kept the "
                    f"target's {have[:40]!r} (the source has {value[:40]!r}); a pull brings "
                    "it back, or set it again on the side whose value should win.")
    return out


def _deleted_there(agreement, kind: str, s_ident: tuple, t_ident: tuple):
    if agreement is None:
        return None
    return lambda key, value: agreement.target_deleted(kind, s_ident, t_ident, key, value)


# ---------------------------------------------------------------------------- writing
def write_experiments(dst: Connection, src_state: dict[str, dict], out,
                      agreement=None) -> None:
    """Tags and lifecycle of the experiments both stores hold, and the experiments only the
    source holds, in ``dst``'s transaction (``agreement``: :mod:`.sync_deletions`'s)."""
    tgt_state = experiment_state(dst)
    for name, s in sorted(src_state.items()):
        t = tgt_state.get(name)
        if t is None:  # an experiment without runs yet (runs bring theirs): created as is
            _add_experiment(dst, s, out)
            continue
        newer = _changed_at(s) > _changed_at(t)
        what = f"experiment {name!r}"
        tags = _merge(s["tags"], t["tags"], newer, what, out.notes,
                      _deleted_there(agreement, "etag:", (name,), (name,)))
        if tags:
            stmt = upsert(dst, ExperimentTag.__table__)
            dst.execute(stmt.on_conflict_do_update(
                index_elements=["experiment_id", "key"], set_={"value": stmt.excluded.value}),
                [{"experiment_id": t["id"], "key": k, "value": v} for k, v in tags.items()])
            out.counts["experiment_tags"] += len(tags)
        stage = s["lifecycle_stage"]
        if stage != t["lifecycle_stage"]:
            if newer:
                dst.execute(update(Experiment).where(Experiment.id == t["id"])
                            .values(lifecycle_stage=stage))
                _touch_runs(dst, [t["id"]])  # a live search index re-reads lifecycles
                out.counts["experiment_lifecycle"] += 1
            else:
                out.notes.append(
                    f"{what} is {stage} at the source and {t['lifecycle_stage']} at the "
                    "target, which changed later: kept the target's (a pull brings it back; "
                    "or delete or restore it again on the side that should win).")
        if newer and (tags or stage != t["lifecycle_stage"]):
            # Both sides now agree up to the source's change: a sync back changes nothing.
            dst.execute(update(Experiment).where(Experiment.id == t["id"])
                        .values(updated_at=_changed_at(s)))


def _add_experiment(dst: Connection, s: dict, out) -> None:
    """The source's experiment, its lifecycle and tags, at a target that lacks its name."""
    eid = dst.execute(Experiment.__table__.insert().values(
        name=s["name"], description=s["description"], created_at=s["created_at"],
        lifecycle_stage=s["lifecycle_stage"], updated_at=s["updated_at"])
        .returning(Experiment.id)).scalar_one()
    if s["tags"]:
        dst.execute(ExperimentTag.__table__.insert(), [
            {"experiment_id": eid, "key": k, "value": v} for k, v in sorted(s["tags"].items())])
    out.counts["experiments"] += 1


def _touch_runs(dst: Connection, experiment_ids: Iterable[int]) -> None:
    """One ``run_changes`` entry per experiment (as the store does on rename or delete)."""
    for eid in experiment_ids:
        run_id = dst.execute(select(Run.id).where(Run.experiment_id == eid).limit(1)).scalar()
        if run_id is not None:
            dst.execute(RunChange.__table__.insert().values(run_id=run_id))


def write_registry_tags(dst: Connection, src_reg: dict, src_tags: tuple[dict, dict],
                        out, agreement=None) -> None:
    """Tags and descriptions of models and versions both stores hold (after
    :func:`~jupyter_mlops.store.sync_catalog.write_registry` mapped the versions)."""
    from jupyter_mlops.store.sync_catalog import registry_state

    tgt_reg = registry_state(dst)
    tgt_models, tgt_versions = registry_tags(dst)
    src_models, src_versions = src_tags
    for name, s in sorted(src_reg["models"].items()):
        t = tgt_reg["models"].get(name)
        if t is None:
            continue
        _apply(dst, RegisteredModel, RegisteredModelTag, "model_id", t["id"], s, t,
               src_models.get(name, {}), tgt_models.get(name, {}), f"model {name!r}", out,
               _deleted_there(agreement, "mtag:", (name,), (name,)))
    by_number = {(v["model"], v["version"]): v for v in tgt_reg["versions"]}
    for v in src_reg["versions"]:
        number = out.versions.get((v["model"], v["version"]))
        t = by_number.get((v["model"], number))
        if t is None:
            continue
        _apply(dst, ModelVersion, ModelVersionTag, "version_id", t["id"], v, t,
               src_versions.get((v["model"], v["version"]), {}),
               tgt_versions.get((v["model"], number), {}),
               f"model {v['model']!r} version {number}", out,
               _deleted_there(agreement, "vtag:", (v["model"], v["version"]),
                              (v["model"], number)))


def _apply(dst, table, tag_table, id_column: str, target_id: int, s: dict, t: dict,
           s_tags: dict, t_tags: dict, what: str, out, deleted_there=None) -> None:
    newer = _changed_at(s) > _changed_at(t)
    tags = _merge(s_tags, t_tags, newer, what, out.notes, deleted_there)
    if tags:
        stmt = upsert(dst, tag_table.__table__)
        dst.execute(stmt.on_conflict_do_update(
            index_elements=[id_column, "key"], set_={"value": stmt.excluded.value}),
            [{id_column: target_id, "key": k, "value": v} for k, v in tags.items()])
        out.counts["registry_tags"] += len(tags)
    described = False
    if s.get("description") and s["description"] != t.get("description"):
        if newer or not t.get("description"):
            dst.execute(update(table).where(table.id == target_id)
                        .values(description=s["description"]))
            out.counts["registry_descriptions"] += 1
            described = True
        else:
            out.notes.append(
                f"the description of {what} differs and the target changed later: kept the "
                "target's (a pull brings it back, or edit it again on the side that should "
                "win).")
    if newer and (tags or described):
        dst.execute(update(table).where(table.id == target_id)
                    .values(updated_at=_changed_at(s)))
