"""Deletions in a sync: runs the source deleted, and tag keys deleted on one side.

A store erases a deleted run or tag (no tombstone), so an absence alone does not say which
side changed: a key the target has and the source lacks was either deleted at the source or
added at the target. Sync therefore remembers what both stores held at the end of each sync
(their *agreement*), in the target's ``sync_marks`` (peer = the source, written in the sync's
one target transaction, like every other mark):

- ``run:<run id>``: a hash of the run's fingerprint (:func:`.sync_runs.fingerprints`),
  written when the run is the same on both sides after the sync; dropped when it is not.
- ``tag:…``, ``etag:…``, ``mtag:…``, ``vtag:…``: one per tag key of a run, experiment,
  model or model version whose value is the same on both sides, the position a hash of the
  value (named by a hash of the object and key, as the target names them).

Rules (nothing the other side changed since the agreement is lost; each refusal is one line):

- A run the source created and no longer holds, whose copy at the target still has the
  agreed fingerprint, is deleted at the target. Changed there since (a tag, points, an
  artifact added), registered there as a model version, or never agreed (synced before
  this version of sync): kept, and a conflict line says how to delete it there.
- A run tag key the agreement holds, gone at the source, still with the agreed value at the
  target: deleted there when the source owns the run (tags follow the run's owner, as their
  values do); a conflict otherwise, or when the target changed the value since.
- An experiment, model or version tag key likewise, whichever side deleted it (these have
  no owner); a value changed at the target since is kept and noted.
- A key the target deleted since the agreement is not added back by a push (a pull
  deletes it at the other side), except on a run the source owns (the owner's tags win).

Runs are deleted only by a whole-store sync (``--run`` looks at the selected runs only), and
not when the source's change log is behind what the target already received from it (a
store restored from a backup: its missing runs were not deleted, they were never there).
Experiments are never erased, only deleted or restored: :mod:`.sync_meta` carries that.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, delete, func, select

from jupyter_mlops.store.orm import (
    ExperimentTag, ModelVersion, ModelVersionTag, RegisteredModelTag, Run, RunChange,
    SyncMark, SyncOrigin, Tag,
)
from jupyter_mlops.store.sync_runs import chunks, existing_runs, fingerprints, member

RUN, TAG, ETAG, MTAG, VTAG = "run:", "tag:", "etag:", "mtag:", "vtag:"
#: Marks kept per object (many): not read with the cursors and aliases (``pipe:``:
#: :mod:`.sync_pipelines`, ``mon:``: :mod:`.sync_monitors`).
OBJECT_MARKS = (RUN, TAG, ETAG, MTAG, VTAG, "pipe:", "mon:")
_MASK = (1 << 63) - 1  # positions are signed 64-bit


def key_mark(kind: str, ident: tuple, key: str) -> str:
    """The mark naming one tag key of one object (names are up to 64 characters)."""
    text = "\0".join(str(p) for p in (*ident, key))
    return kind + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def value_hash(value: object) -> int:
    data = repr(value).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big") & _MASK


def read_marks(conn: Connection, peer: str, names: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in chunks(sorted(set(names))):
        out.update(conn.execute(select(SyncMark.name, SyncMark.position).where(
            SyncMark.peer == peer, member(conn, SyncMark.name, part))).all())
    return out


def kind_marks(conn: Connection, peer: str, kinds: tuple[str, ...]) -> dict[str, int]:
    out: dict[str, int] = {}
    for kind in kinds:
        out.update(conn.execute(select(SyncMark.name, SyncMark.position).where(
            SyncMark.peer == peer, SyncMark.name.like(kind + "%"))).all())
    return out


@dataclass
class Agreement:
    """What both stores held at earlier syncs: the target's marks (peer = the source, named
    as the target names its objects) and the source's (peer = the target)."""

    target: dict[str, int] = field(default_factory=dict)
    source: dict[str, int] = field(default_factory=dict)
    #: The runs the target held before this sync (the others arrive whole: no marks yet).
    present: set[str] = field(default_factory=set)

    def of(self, kind: str, s_ident: tuple, t_ident: tuple, key: str) -> int | None:
        found = self.target.get(key_mark(kind, t_ident, key))
        return found if found is not None else self.source.get(key_mark(kind, s_ident, key))

    def target_deleted(self, kind: str, s_ident: tuple, t_ident: tuple, key: str,
                       value: str) -> bool:
        """The target lacks ``key`` and the source still has the agreed ``value``."""
        return self.of(kind, s_ident, t_ident, key) == value_hash(value)


def _forget(out, kind: str, s_ident: tuple, t_ident: tuple, key: str) -> None:
    out.target_marks[key_mark(kind, t_ident, key)] = None
    out.source_marks[key_mark(kind, s_ident, key)] = None


def _remember(out, known: dict[str, int], kind: str, ident: tuple, s_tags: dict,
              t_tags: dict) -> None:
    """Target marks for the keys both sides now hold with one value (changed ones only)."""
    for key, value in s_tags.items():
        if t_tags.get(key) == value:
            name, h = key_mark(kind, ident, key), value_hash(value)
            if known.get(name) != h:
                out.target_marks[name] = h


# ---------------------------------------------------------------------------- runs: reading
def tags_of(conn: Connection, ids: Iterable[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for part in chunks(sorted(set(ids))):
        for rid, key, value in conn.execute(select(Tag.run_id, Tag.key, Tag.value)
                                            .where(member(conn, Tag.run_id, part))):
            out.setdefault(rid, {})[key] = value
    return out


def run_agreement(src: Connection, dst: Connection, data, src_id: str,
                  dst_id: str) -> Agreement:
    """The agreed values of the run tag keys one side has and the other lacks."""
    there = existing_runs(dst, data.runs)
    t_tags = tags_of(dst, there)
    names = [key_mark(TAG, (rid,), k) for rid in there
             for k in set(data.tags.get(rid, {})) ^ set(t_tags.get(rid, {}))]
    if not names:
        return Agreement(present=there)
    return Agreement(read_marks(dst, src_id, names), read_marks(src, dst_id, names), there)


def deleted_runs(src: Connection, dst: Connection, cursors: dict[str, int], mode: str,
                 src_id: str, notes: list[str]) -> list[str]:
    """Runs the source created, sent to the target and no longer holds."""
    if mode == "selected runs":
        return []
    if src.dialect.name == "sqlite":
        seq_now = src.execute(select(func.max(RunChange.seq))).scalar() or 0
        if cursors.get("run_changes", 0) > seq_now:
            notes.append("the source's change log is behind what the target received from "
                         "it (a store restored from a backup?): run deletions not synced.")
            return []
    if mode == "change log":
        candidates = set(src.execute(select(RunChange.run_id).where(
            RunChange.seq > cursors["run_changes"]).distinct()).scalars())
        candidates -= existing_runs(src, candidates)
        owned = set()
        for part in chunks(sorted(candidates)):
            owned |= set(dst.execute(select(SyncOrigin.run_id).where(
                SyncOrigin.peer == src_id, member(dst, SyncOrigin.run_id, part))).scalars())
    else:
        owned = set(dst.execute(select(SyncOrigin.run_id)
                                .where(SyncOrigin.peer == src_id)).scalars())
        owned -= existing_runs(src, owned)
    return sorted(existing_runs(dst, owned))


def source_fingerprints(src: Connection, data) -> dict[str, tuple]:
    return fingerprints(src, sorted(data.runs)) if data.runs else {}


# ---------------------------------------------------------------------------- runs: writing
def keep_out_of_runs(data, agreement: Agreement, src_id: str) -> Callable[[str, str], bool]:
    """For :func:`.sync_runs.write_runs`: a tag the target deleted is not added back, unless
    the source owns the run."""
    def skip(rid: str, key: str) -> bool:
        if data.origins.get(rid, src_id) == src_id:
            return False
        return agreement.target_deleted(TAG, (rid,), (rid,), key, data.tags[rid][key])
    return skip


def write_run_tags(dst: Connection, data, agreement: Agreement, src_id: str,
                   owner_name: dict[str, str], out) -> None:
    """Run tag keys the source deleted, then the new agreement (after the runs merged)."""
    there = existing_runs(dst, data.runs)
    t_all = tags_of(dst, there)
    gone: list[tuple[str, str]] = []
    for rid in sorted(there):
        s_tags, t_tags = data.tags.get(rid, {}), t_all.get(rid, {})
        owner = data.origins.get(rid, src_id)
        for key in sorted(set(t_tags) - set(s_tags)):
            agreed = agreement.of(TAG, (rid,), (rid,), key)
            if agreed is None:
                continue  # added at the target: not the source's to delete
            if owner != src_id:
                whose = owner_name.get(owner, f"store {owner}")
                out.conflicts.append(
                    f"run {rid[:8]} tag {key!r}: deleted at the source; kept the target's "
                    f"(the run belongs to {whose}: delete the tag there).")
            elif value_hash(t_tags[key]) != agreed:
                out.conflicts.append(
                    f"run {rid[:8]} tag {key!r}: deleted at the source, but changed at the "
                    f"target since the last sync (now {t_tags[key][:40]!r}); kept the "
                    "target's (delete it there if it should go).")
            else:
                gone.append((rid, key))
                _forget(out, TAG, (rid,), (rid,), key)
                del t_tags[key]
    for rid, key in gone:
        dst.execute(delete(Tag).where(Tag.run_id == rid, Tag.key == key))
    out.counts["tags_deleted"] += len(gone)
    equal = [key_mark(TAG, (rid,), k) for rid in there & agreement.present
             for k, v in data.tags.get(rid, {}).items() if t_all.get(rid, {}).get(k) == v]
    known = read_marks(dst, src_id, equal)  # a run new here has none
    for rid in there:
        _remember(out, known, TAG, (rid,), data.tags.get(rid, {}), t_all.get(rid, {}))


def write_run_marks(dst: Connection, data, src_fp: dict[str, tuple], agreement: Agreement,
                    out) -> None:
    """``run:`` marks: a run the same on both sides now is agreed; any other is not. A run
    new at the target is the source's copy: its fingerprint is the source's (were it not,
    the mark would only ever refuse a deletion, never allow a wrong one)."""
    there = existing_runs(dst, data.runs)
    merged = sorted(there & agreement.present)
    t_fp = {r: src_fp.get(r) for r in there - agreement.present}
    t_fp.update(fingerprints(dst, merged) if merged else {})
    for rid in sorted(there):
        same = src_fp.get(rid) is not None and src_fp.get(rid) == t_fp.get(rid)
        out.target_marks[RUN + rid] = value_hash(t_fp[rid]) if same else None


def write_run_deletions(dst: Connection, gone: list[str], src_id: str, out) -> None:
    """Delete the runs the source deleted, where the target's copy is the agreed one."""
    if not gone:
        return
    t_fp = fingerprints(dst, gone)
    agreed = read_marks(dst, src_id, [RUN + r for r in gone])
    registered: dict[str, str] = {}
    for part in chunks(gone):
        for rid, model_id, number in dst.execute(select(
                ModelVersion.run_id, ModelVersion.model_id, ModelVersion.version)
                .where(member(dst, ModelVersion.run_id, part))):
            registered.setdefault(rid, f"model version {number} (model id {model_id})")
    delete_ids = []
    for rid in gone:
        if rid not in t_fp:
            continue
        how = (f"delete it there too (`Client('TARGET').delete_run('{rid}')`) if it should "
               "go, or push it again by logging to it here")
        if rid in registered:
            out.conflicts.append(
                f"run {rid[:8]}: deleted at the source, but the target registered "
                f"{registered[rid]} from it; kept the target's ({how}).")
        elif agreed.get(RUN + rid) != value_hash(t_fp[rid]):
            out.conflicts.append(
                f"run {rid[:8]}: deleted at the source, but the target's copy changed since "
                f"the last sync (or was synced before deletions were); kept the target's "
                f"({how}).")
        else:
            delete_ids.append(rid)
    if not delete_ids:
        return
    t_tags = tags_of(dst, delete_ids)
    for part in chunks(delete_ids):
        dst.execute(delete(Run).where(member(dst, Run.id, part)))
        dst.execute(delete(SyncOrigin).where(member(dst, SyncOrigin.run_id, part)))
    for rid in delete_ids:
        out.target_marks[RUN + rid] = None
        for key in t_tags.get(rid, {}):
            _forget(out, TAG, (rid,), (rid,), key)
    out.counts["runs_deleted"] += len(delete_ids)


# ---------------------------------------------------------------------------- metadata tags
def meta_agreement(src: Connection, dst: Connection, src_id: str, dst_id: str) -> Agreement:
    """Agreed experiment, model and version tags (few: read whole)."""
    kinds = (ETAG, MTAG, VTAG)
    return Agreement(kind_marks(dst, src_id, kinds), kind_marks(src, dst_id, kinds))


def write_meta_tags(dst: Connection, experiments: dict[str, dict], reg: dict | None,
                    reg_tags: tuple[dict, dict] | None, agreement: Agreement, out) -> None:
    """Experiment, model and version tag keys deleted at the source (the target's value
    still the agreed one), then the new agreement; after :mod:`.sync_meta` wrote."""
    from jupyter_mlops.store.sync_catalog import registry_state
    from jupyter_mlops.store.sync_meta import experiment_state, registry_tags

    t_exps = experiment_state(dst)
    for name, s in sorted(experiments.items()):
        t = t_exps.get(name)
        if t is not None:
            _meta_object(dst, ETAG, (name,), (name,), s["tags"], t["tags"], agreement,
                         f"experiment {name!r}", delete(ExperimentTag).where(
                             ExperimentTag.experiment_id == t["id"]), ExperimentTag, out)
    if reg is None or reg_tags is None:
        return
    t_reg = registry_state(dst)
    t_models, t_versions = registry_tags(dst)
    s_models, s_versions = reg_tags
    for name in sorted(reg["models"]):
        t = t_reg["models"].get(name)
        if t is not None:
            _meta_object(dst, MTAG, (name,), (name,), s_models.get(name, {}),
                         t_models.get(name, {}), agreement, f"model {name!r}",
                         delete(RegisteredModelTag).where(RegisteredModelTag.model_id == t["id"]),
                         RegisteredModelTag, out)
    t_ids = {(v["model"], v["version"]): v["id"] for v in t_reg["versions"]}
    for v in reg["versions"]:
        number = out.versions.get((v["model"], v["version"]))
        vid = t_ids.get((v["model"], number))
        if vid is None:
            continue
        _meta_object(dst, VTAG, (v["model"], v["version"]), (v["model"], number),
                     s_versions.get((v["model"], v["version"]), {}),
                     t_versions.get((v["model"], number), {}), agreement,
                     f"model {v['model']!r} version {number}",
                     delete(ModelVersionTag).where(ModelVersionTag.version_id == vid),
                     ModelVersionTag, out)


def _meta_object(dst: Connection, kind: str, s_ident: tuple, t_ident: tuple, s_tags: dict,
                 t_tags: dict, agreement: Agreement, what: str, delete_stmt, table,
                 out) -> None:
    t_tags = dict(t_tags)
    for key in sorted(set(t_tags) - set(s_tags)):
        agreed = agreement.of(kind, s_ident, t_ident, key)
        if agreed is None:
            continue
        if value_hash(t_tags[key]) != agreed:
            out.notes.append(
                f"tag {key!r} of {what} was deleted at the source but changed at the target "
                "since the last sync: kept the target's (delete it there if it should go).")
            continue
        dst.execute(delete_stmt.where(table.key == key))
        _forget(out, kind, s_ident, t_ident, key)
        del t_tags[key]
        out.counts["meta_tags_deleted"] += 1
    _remember(out, agreement.target, kind, t_ident, s_tags, t_tags)
