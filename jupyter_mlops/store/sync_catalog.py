"""Datasets, the model registry and lineage for :mod:`jupyter_mlops.store.sync`.

These tables are small next to runs and metrics, so each sync compares them whole. Integer
ids differ between stores, so rows are matched by what identifies them everywhere: a dataset
version by (name, digest), a model by name, a model version by (model, file digest, creation
time), an alias by (model, alias); lineage edges are rewritten to the target's ids.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection, delete, func, select

from jupyter_mlops.store.engine import now, upsert
from jupyter_mlops.store.orm import (
    Artifact, AuditEvent, DatasetVersion, LineageEdge, ModelAlias, ModelVersion,
    RegisteredModel,
)
from jupyter_mlops.store.sync_runs import chunks, existing_runs, insert_rows


def alias_mark(model: str, alias: str) -> str:
    """The sync mark naming one alias (names are up to 256 characters; marks 64)."""
    return "alias:" + hashlib.sha256(f"{model}\0{alias}".encode()).hexdigest()[:40]


@dataclass
class CatalogMerge:
    counts: Counter = field(default_factory=Counter)
    conflicts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Agreed alias positions to record: in the target (same transaction) and the source.
    target_marks: dict[str, int | None] = field(default_factory=dict)
    source_marks: dict[str, int | None] = field(default_factory=dict)
    datasets: dict[int, int] = field(default_factory=dict)  # source id -> target id
    versions: dict[tuple[str, int], int] = field(default_factory=dict)  # (model, v) -> v
    feature_views: dict[int, int] = field(default_factory=dict)  # source id -> target id


# ---------------------------------------------------------------------------- datasets
def dataset_rows(src: Connection, wanted: set[int] | None) -> list[dict]:
    stmt = select(DatasetVersion.__table__).order_by(DatasetVersion.id)
    if wanted is not None:
        if not wanted:
            return []
        stmt = stmt.where(DatasetVersion.id.in_(sorted(wanted)))
    return [dict(r) for r in src.execute(stmt).mappings()]


class VersionNumbers:
    """Versions of named things at the target (dataset versions, feature view versions),
    known by (name, digest): which the target has, and which numbers each name has taken."""

    def __init__(self, dst: Connection, table, names: list[str]):
        self.have: dict[tuple[str, str], int] = {}
        self._taken: set[tuple[str, int]] = set()
        self._top: Counter = Counter()
        c = table.c
        for part in chunks(sorted(set(names))):
            for i, name, version, digest in dst.execute(select(
                    c.id, c.name, c.version, c.digest).where(c.name.in_(part))):
                self.add(name, digest, version, i)

    def number(self, name: str, version: int, what: str, notes: list[str]) -> int:
        """``version``, or the name's next free number if the target has taken it (noted)."""
        if (name, version) not in self._taken:
            return version
        free = self._top[name] + 1
        notes.append(f"{what} {name!r} version {version} is version {free} at the target "
                     "(its number was taken there).")
        return free

    def add(self, name: str, digest: str, version: int, target_id: int) -> None:
        self.have[(name, digest)] = target_id
        self._taken.add((name, version))
        self._top[name] = max(self._top[name], version)

    def insert_missing(self, dst: Connection, table, rows: list[dict], what: str,
                       ids: dict[int, int], notes: list[str],
                       adjust: Callable[[dict], None]) -> list[tuple[dict, int]]:
        """Insert the ``rows`` (source rows) the target lacks, numbered as :meth:`number`
        says and ``adjust``-ed (links rewritten to the target's ids); ``ids`` maps every
        source id to the target's. Returns ``(source row, new target id)`` of those added."""
        c, added = table.c, []
        for r in rows:
            found = self.have.get((r["name"], r["digest"]))
            if found is not None:
                ids[r["id"]] = found
                continue
            row = {k: v for k, v in r.items() if k != "id"}
            row["version"] = self.number(r["name"], r["version"], what, notes)
            adjust(row)
            insert_rows(dst, table, [row])  # keeps a JSON None SQL NULL
            new_id = dst.execute(select(c.id).where(
                c.name == r["name"], c.digest == r["digest"])).scalar_one()
            self.add(r["name"], r["digest"], row["version"], new_id)
            ids[r["id"]] = new_id
            added.append((r, new_id))
        return added


def write_datasets(dst: Connection, rows: list[dict], out: CatalogMerge) -> None:
    """Dataset versions the target lacks (by name and digest); a version number the target
    already uses for other data becomes the next free one there (noted)."""
    if not rows:
        return
    known = VersionNumbers(dst, DatasetVersion.__table__, [r["name"] for r in rows])
    runs_there = existing_runs(dst, {r["created_by_run_id"] for r in rows
                                     if r["created_by_run_id"]})

    def adjust(row: dict) -> None:
        if row["created_by_run_id"] not in runs_there:
            row["created_by_run_id"] = None

    added = known.insert_missing(dst, DatasetVersion.__table__, rows, "dataset", out.datasets,
                                 out.notes, adjust)
    out.counts["datasets"] += len(added)


# ---------------------------------------------------------------------------- registry
def registry_state(conn: Connection) -> dict:
    """Models, versions (with their model's name) and aliases (as version numbers)."""
    models = {r["name"]: dict(r) for r in conn.execute(select(
        RegisteredModel.__table__)).mappings()}
    by_id = {m["id"]: name for name, m in models.items()}
    versions = [dict(r, model=by_id[r["model_id"]]) for r in conn.execute(select(
        ModelVersion.__table__).order_by(ModelVersion.id)).mappings()]
    number = {v["id"]: v["version"] for v in versions}
    aliases = {(by_id[r["model_id"]], r["alias"]): dict(r, version=number[r["version_id"]])
               for r in conn.execute(select(ModelAlias.__table__)).mappings()}
    return {"models": models, "versions": versions, "aliases": aliases}


def registry_digests(state: dict) -> set[str]:
    return {v["digest"] for v in state["versions"]}


def registry_runs(state: dict) -> set[str]:
    return {v["run_id"] for v in state["versions"] if v["run_id"]}


def write_registry(dst: Connection, src_state: dict, src_marks: dict[str, int],
                   dst_marks: dict[str, int], src_id: str, out: CatalogMerge) -> None:
    """Models and versions the target lacks; aliases moved at the source only (a move on both
    sides since the last agreed position is a conflict: the target's is kept)."""
    tgt = registry_state(dst)
    for name, m in src_state["models"].items():
        if name not in tgt["models"]:
            insert_rows(dst, RegisteredModel.__table__, [{k: v for k, v in m.items()
                                                          if k != "id"}])
            out.counts["models"] += 1
    model_ids = dict(dst.execute(select(RegisteredModel.name, RegisteredModel.id)).all())
    have = {(v["model"], v["digest"], v["created_at"]): v["version"] for v in tgt["versions"]}
    taken = {(v["model"], v["version"]) for v in tgt["versions"]}
    top = Counter()
    for v in tgt["versions"]:
        top[v["model"]] = max(top[v["model"]], v["version"])
    runs_there = existing_runs(dst, registry_runs(src_state))
    for v in src_state["versions"]:
        key = (v["model"], v["digest"], v["created_at"])
        if key not in have:
            row = {k: x for k, x in v.items() if k not in ("id", "model")}
            row["model_id"] = model_ids[v["model"]]
            if (v["model"], v["version"]) in taken:
                row["version"] = top[v["model"]] + 1
                out.notes.append(f"model {v['model']!r} version {v['version']} is version "
                                 f"{row['version']} at the target (its number was taken).")
            if row["run_id"] not in runs_there:
                row["run_id"] = None
            insert_rows(dst, ModelVersion.__table__, [row])
            have[key] = row["version"]
            taken.add((v["model"], row["version"]))
            top[v["model"]] = max(top[v["model"]], row["version"])
            out.counts["model_versions"] += 1
        out.versions[(v["model"], v["version"])] = have[key]
    version_ids = {(m, n): i for i, m, n in dst.execute(select(
        ModelVersion.id, RegisteredModel.name, ModelVersion.version).join(
        RegisteredModel, RegisteredModel.id == ModelVersion.model_id))}
    for model, alias in sorted(set(src_state["aliases"]) | set(tgt["aliases"])):
        _alias(dst, model, alias, src_state, tgt, src_marks, dst_marks, model_ids,
               version_ids, src_id, out)


def _alias(dst, model, alias, src_state, tgt, src_marks, dst_marks, model_ids, version_ids,
           src_id, out: CatalogMerge) -> None:
    mark = alias_mark(model, alias)
    s_row, t_row = src_state["aliases"].get((model, alias)), tgt["aliases"].get((model, alias))
    s_v = s_row["version"] if s_row else None
    t_v = t_row["version"] if t_row else None
    s_as_t = out.versions.get((model, s_v)) if s_v is not None else None
    moved_s, moved_t = s_v != src_marks.get(mark), t_v != dst_marks.get(mark)
    if s_as_t == t_v:  # already in the same place: that is the agreed position now
        out.target_marks[mark], out.source_marks[mark] = t_v, s_v
        return
    if moved_s and not moved_t:
        before = t_v
        if s_row is None:
            dst.execute(delete(ModelAlias).where(ModelAlias.model_id == model_ids[model],
                                                 ModelAlias.alias == alias))
        else:
            stmt = upsert(dst, ModelAlias.__table__).values(
                model_id=model_ids[model], alias=alias,
                version_id=version_ids[(model, s_as_t)], updated_by=s_row["updated_by"],
                updated_at=s_row["updated_at"])
            dst.execute(stmt.on_conflict_do_update(
                index_elements=["model_id", "alias"],
                set_={k: stmt.excluded[k] for k in ("version_id", "updated_by", "updated_at")}))
        dst.execute(AuditEvent.__table__.insert().values(
            at=now(), user=s_row["updated_by"] if s_row else "sync",
            action="set_alias" if s_row else "delete_alias", target_type="model",
            target_id=model, details={"alias": alias, "version": s_as_t, "previous": before,
                                      "synced_from": src_id},
            reason="sync"))
        out.target_marks[mark], out.source_marks[mark] = s_as_t, s_v
        out.counts["aliases"] += 1
        return
    if not moved_s:  # only the target moved: a push leaves it; a pull in reverse brings it
        return
    out.conflicts.append(
        f"alias {model}@{alias} moved on both sides since the last sync (source: "
        f"{_v(s_v)}, target: {_v(t_v)}): kept the target's. To keep it, pull "
        f"(`jupyter mlops sync --from …`) or re-point it here; to take the source's, run "
        f"`jupyter mlops models alias {model} {alias} VERSION` against the target.")


def _v(version: int | None) -> str:
    return "unset" if version is None else f"version {version}"


# ---------------------------------------------------------------------------- lineage
def write_edges(dst: Connection, edges: list[dict], src_artifacts: dict[int, tuple[str, str]],
                out: CatalogMerge) -> None:
    """Lineage edges rewritten to the target's node ids; edges whose node has no
    counterpart at the target (materializations, pipelines' nodes) are left out (counted)."""
    if not edges:
        return
    wanted = {src_artifacts[int(e[f"{end}_id"])] for e in edges for end in ("src", "dst")
              if e[f"{end}_type"] == "artifact" and e[f"{end}_id"].isdigit()
              and int(e[f"{end}_id"]) in src_artifacts}
    art_ids: dict[tuple[str, str], int] = {}
    for part in chunks(sorted({r for r, _n in wanted})):
        for i, rid, name in dst.execute(select(Artifact.id, Artifact.run_id, Artifact.name)
                                        .where(Artifact.run_id.in_(part))):
            art_ids[(rid, name)] = i

    def node(kind: str, ident: str) -> str | None:
        if kind == "run":
            return ident
        if kind == "artifact" and ident.isdigit() and int(ident) in src_artifacts:
            found = art_ids.get(src_artifacts[int(ident)])
            return None if found is None else str(found)
        if kind == "dataset" and ident.isdigit() and int(ident) in out.datasets:
            return str(out.datasets[int(ident)])
        if kind == "feature_view" and ident.isdigit() and int(ident) in out.feature_views:
            return str(out.feature_views[int(ident)])
        if kind == "training_set":  # named by its content digest: the same on every store
            return ident
        if kind == "model" and "/" in ident:
            model, _, number = ident.rpartition("/")
            mapped = out.versions.get((model, int(number))) if number.isdigit() else None
            return None if mapped is None else f"{model}/{mapped}"
        return None

    rows, skipped = [], 0
    for e in edges:
        a, b = node(e["src_type"], e["src_id"]), node(e["dst_type"], e["dst_id"])
        if a is None or b is None:
            skipped += 1
            continue
        rows.append({"src_type": e["src_type"], "src_id": a, "dst_type": e["dst_type"],
                     "dst_id": b, "relation": e["relation"], "created_at": e["created_at"]})
    if rows:
        before = dst.execute(select(func.count()).select_from(LineageEdge)).scalar()
        stmt = upsert(dst, LineageEdge.__table__).on_conflict_do_nothing(
            index_elements=["src_type", "src_id", "dst_type", "dst_id", "relation"])
        for part in chunks(rows, 2000):
            dst.execute(stmt, part)
        after = dst.execute(select(func.count()).select_from(LineageEdge)).scalar()
        out.counts["lineage_edges"] += int(after - before)
    if skipped:
        out.counts["lineage_edges_skipped"] += skipped
