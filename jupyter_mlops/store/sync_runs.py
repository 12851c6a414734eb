"""Runs for :mod:`jupyter_mlops.store.sync`: which changed, what they hold, how they merge.

Everything here works on connections the caller opened (the source read, the target's one
write transaction), in batches of ``BATCH`` ids, so 1,000 new runs cost a few dozen
statements, not thousands. The merge rules are those of :mod:`.sync` (its docstring is the
reference); this module only carries them out.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import JSON, Connection, Table, bindparam, delete, func, or_, select, update

from jupyter_mlops.store.orm import (
    Artifact, CodeSnapshot, Environment, Experiment, LatestMetric, LineageEdge, MetricChunk,
    Param, Run, RunChange, SyncOrigin, Tag,
)

#: Ids per ``IN (…)`` list: well under SQLite's and PostgreSQL's parameter limits.
BATCH = 500
#: A run whose status is this may still change; any other status is final.
RUNNING = "RUNNING"


def member(conn: Connection, col, ids: list):
    """``col IN ids``; on PostgreSQL ``col = ANY(:array)``: one bound value instead of one
    per id (SQLAlchemy renders a cast for each of those, which a large batch pays for)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy import String, any_
        from sqlalchemy.dialects.postgresql import ARRAY

        return col == any_(bindparam(None, list(ids), type_=ARRAY(String)))
    return col.in_(ids)


def chunks(items: list, size: int = BATCH) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def insert_rows(conn: Connection, table: Table, rows: list[dict]) -> None:
    """Insert ``rows`` (all with the same keys): PostgreSQL by COPY, others by executemany.

    A JSON column's None stays SQL NULL (not the JSON text 'null'). COPY runs on the
    connection's own transaction; its driver errors are wrapped as SQLAlchemy's, so
    ``write_connection`` translates them like any other (a dropped connection is
    StoreUnavailableError).
    """
    if not rows:
        return
    if conn.dialect.name == "postgresql" and len(rows) >= COPY_MIN_ROWS:
        _copy_rows(conn, table, rows)
        return
    stmt = table.insert().values({
        c.name: bindparam(c.name, type_=JSON(none_as_null=True))
        for c in table.columns if isinstance(c.type, JSON)})
    for part in chunks(rows, 2000):
        conn.execute(stmt, part)


#: Below this many rows an executemany is as quick as setting up a COPY.
COPY_MIN_ROWS = 20


def _copy_rows(conn: Connection, table: Table, rows: list[dict]) -> None:
    import json

    import psycopg
    from sqlalchemy.exc import DBAPIError

    names = list(rows[0])
    as_json = {n for n in names if isinstance(table.c[n].type, JSON)}
    # Column names come from our ORM (quoted: ``user`` is a reserved word), never from input.
    sql = f'COPY "{table.name}" ({", ".join(f"{chr(34)}{n}{chr(34)}" for n in names)}) FROM STDIN'
    try:
        with conn.connection.driver_connection.cursor() as cur, cur.copy(sql) as copy:
            for row in rows:
                copy.write_row([json.dumps(row[n]) if n in as_json and row[n] is not None
                                else row[n] for n in names])
    except psycopg.Error as exc:
        raise DBAPIError.instance(sql, None, exc, psycopg.Error) from exc
    conn.info["mlops_rows"] = conn.info.get("mlops_rows", 0) + len(rows)


# ---------------------------------------------------------------------------- what changed
def changed_runs(src: Connection, dst: Connection, got: dict[str, int],
                 run_ids: list[str] | None) -> tuple[list[str], dict[str, int], str]:
    """(run ids to sync, the source's cursor positions now, how they were found).

    With the source's change log (SQLite keeps one, migration 0005) and a mark from the last
    sync that the log still covers: the runs logged since, plus runs given artifacts or code
    snapshots since (those tables are not in the log). Otherwise (a PostgreSQL source, a
    first sync, a log pruned past the mark): every run whose fingerprint differs at the target.
    """
    if run_ids is not None:
        return list(run_ids), {}, "selected runs"
    positions: dict[str, int] = {}
    if src.dialect.name == "sqlite":
        seq_now, oldest = src.execute(select(func.max(RunChange.seq),
                                             func.min(RunChange.seq))).one()
        positions = {
            "run_changes": int(seq_now or 0),
            "artifacts": int(src.execute(select(func.max(Artifact.id))).scalar() or 0),
            "code_snapshots": int(src.execute(select(func.max(CodeSnapshot.id))).scalar() or 0),
        }
        mark = got.get("run_changes")
        if (mark is not None and "artifacts" in got and "code_snapshots" in got
                and mark <= positions["run_changes"]
                and (oldest is None or oldest <= mark + 1)):
            ids = set(src.execute(select(RunChange.run_id).where(RunChange.seq > mark)
                                  .distinct()).scalars())
            ids |= {r for r in src.execute(select(Artifact.run_id).where(
                Artifact.id > got["artifacts"])).scalars() if r}
            ids |= set(src.execute(select(CodeSnapshot.run_id).where(
                CodeSnapshot.id > got["code_snapshots"])).scalars())
            # Runs deleted since are not in the source any more (deletions are not synced).
            present = [r for part in chunks(sorted(ids)) for r in src.execute(
                select(Run.id).where(member(src, Run.id, part))).scalars()]
            return sorted(present), positions, "change log"
    src_fp = fingerprints(src, None)
    ids = sorted(src_fp)
    dst_fp = fingerprints(dst, ids)
    return [r for r in ids if src_fp[r] != dst_fp.get(r)], positions, "full comparison"


def fingerprints(conn: Connection, ids: list[str] | None) -> dict[str, tuple]:
    """Per run: its row's changing columns, how many params, tags, points, artifacts and
    snapshots it has, and a digest of its tags' keys and values (a tag whose value changed
    keeps the count) — equal at both ends once a run is in sync (unless the target added)."""
    out: dict[str, list] = {}
    tag_values: dict[str, list[tuple[str, str]]] = {}
    parts = [None] if ids is None else list(chunks(ids))
    for part in parts:
        def where(col, part=part):
            return [] if part is None else [member(conn, col, part)]
        for row in conn.execute(select(Run.id, Run.status, Run.end_time, Run.heartbeat_at,
                                       Run.name, Run.parent_run_id).where(*where(Run.id))):
            out[row[0]] = list(row[1:]) + [0, 0, 0, 0, 0, ""]
        for slot, (col, agg) in enumerate((
                (Param.run_id, func.count()), (Tag.run_id, func.count()),
                (LatestMetric.run_id, func.sum(LatestMetric.count)),
                (Artifact.run_id, func.count()), (CodeSnapshot.run_id, func.count()))):
            for rid, n in conn.execute(select(col, agg).where(*where(col)).group_by(col)):
                if rid in out:
                    out[rid][5 + slot] = int(n or 0)
        for rid, key, value in conn.execute(select(Tag.run_id, Tag.key, Tag.value)
                                            .where(*where(Tag.run_id))):
            tag_values.setdefault(rid, []).append((key, value))
    for rid, pairs in tag_values.items():
        if rid in out:  # sorted here: PostgreSQL's and SQLite's collations order keys apart
            out[rid][10] = _digest(sorted(pairs))
    return {k: tuple(v) for k, v in out.items()}


def _digest(pairs: list[tuple[str, str]]) -> str:
    import hashlib

    h = hashlib.blake2b(digest_size=16)
    for key, value in pairs:
        h.update(key.encode("utf-8", "surrogatepass") + b"\0"
                 + (value or "").encode("utf-8", "surrogatepass") + b"\0")
    return h.hexdigest()


# ---------------------------------------------------------------------------- reading
@dataclass
class RunData:
    """Everything a set of runs holds, as plain dicts keyed as the tables are."""

    runs: dict[str, dict] = field(default_factory=dict)
    params: dict[str, dict[str, str]] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    chunks: dict[str, list[dict]] = field(default_factory=dict)
    latest: dict[tuple[str, str], dict] = field(default_factory=dict)
    artifacts: dict[str, list[dict]] = field(default_factory=dict)
    snapshots: dict[str, list[dict]] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    experiments: dict[int, dict] = field(default_factory=dict)
    environments: dict[int, dict] = field(default_factory=dict)


def read_runs(conn: Connection, ids: Iterable[str], *, with_chunks: bool = True) -> RunData:
    data = RunData()
    for part in chunks(sorted(set(ids))):
        for row in conn.execute(select(Run.__table__)
                                .where(member(conn, Run.id, part))).mappings():
            data.runs[row["id"]] = dict(row)
        for table, into in ((Param, data.params), (Tag, data.tags)):
            for rid, k, v in conn.execute(select(table.run_id, table.key, table.value)
                                          .where(member(conn, table.run_id, part))):
                into.setdefault(rid, {})[k] = v
        if with_chunks:
            for row in conn.execute(select(MetricChunk.__table__).where(member(
                    conn, MetricChunk.run_id, part)).order_by(MetricChunk.id)).mappings():
                data.chunks.setdefault(row["run_id"], []).append(dict(row))
        for row in conn.execute(select(LatestMetric.__table__).where(
                member(conn, LatestMetric.run_id, part))).mappings():
            data.latest[(row["run_id"], row["key"])] = dict(row)
        for row in conn.execute(select(Artifact.__table__).where(
                member(conn, Artifact.run_id, part)).order_by(Artifact.id)).mappings():
            data.artifacts.setdefault(row["run_id"], []).append(dict(row))
        for row in conn.execute(select(CodeSnapshot.__table__).where(
                member(conn, CodeSnapshot.run_id, part)).order_by(CodeSnapshot.id)).mappings():
            data.snapshots.setdefault(row["run_id"], []).append(dict(row))
        data.origins.update(conn.execute(select(SyncOrigin.run_id, SyncOrigin.peer)
                                         .where(member(conn, SyncOrigin.run_id, part))).all())
    exp_ids = {r["experiment_id"] for r in data.runs.values()}
    env_ids = {r["environment_id"] for r in data.runs.values() if r["environment_id"]}
    if exp_ids:
        data.experiments = {r["id"]: dict(r) for r in conn.execute(select(
            Experiment.__table__).where(Experiment.id.in_(sorted(exp_ids)))).mappings()}
    if env_ids:
        data.environments = {r["id"]: dict(r) for r in conn.execute(select(
            Environment.__table__).where(Environment.id.in_(sorted(env_ids)))).mappings()}
    return data


def run_edges(conn: Connection, ids: list[str]) -> list[dict]:
    """Lineage edges with a run at either end."""
    out: list[dict] = []
    for part in chunks(sorted(ids)):
        out += [dict(r) for r in conn.execute(select(LineageEdge.__table__).where(or_(
            (LineageEdge.src_type == "run") & member(conn, LineageEdge.src_id, part),
            (LineageEdge.dst_type == "run") & member(conn, LineageEdge.dst_id, part))))
            .mappings()]
    return out


def existing_runs(conn: Connection, ids: Iterable[str]) -> set[str]:
    return {r for part in chunks(sorted(set(ids)))
            for r in conn.execute(select(Run.id).where(member(conn, Run.id, part))).scalars()}


# ---------------------------------------------------------------------------- merging
@dataclass
class RunMerge:
    """What the target got (counts) and what it refused (conflicts, one line each)."""

    counts: Counter = field(default_factory=Counter)
    conflicts: list[str] = field(default_factory=list)


def _points(chunk_rows: list[dict]) -> list[tuple[float, int, float]]:
    from jupyter_mlops.store.metric_chunks import unpack

    by_order = [(c["n"], c["data"]) for c in chunk_rows]
    steps, values, stamps = unpack(by_order)
    return list(zip(values.tolist(), steps.tolist(), stamps.tolist()))


def write_runs(dst: Connection, src_data: RunData, src_id: str, dst_id: str,
               owner_name: dict[str, str],
               keep_out: Callable[[str, str], bool] | None = None) -> RunMerge:
    """Insert the source's runs the target lacks and merge those it has, in ``dst``'s
    transaction; returns the counts and the conflicts (one line each). ``keep_out(run, key)``
    names the tags of existing runs not to add (deleted at the target: :mod:`.sync_deletions`)."""
    out = RunMerge()
    ids = sorted(src_data.runs)
    # Only the runs the target has are read back (a push of new runs reads one column).
    tgt = read_runs(dst, sorted(existing_runs(dst, ids)), with_chunks=False)
    new = [r for r in ids if r not in tgt.runs]
    old = [r for r in ids if r in tgt.runs]
    exp_map = _map_experiments(dst, src_data)
    env_map = _map_environments(dst, src_data)

    # New runs: every row verbatim (ids of the target's own for experiments/environments).
    rows, parents = [], []
    for rid in new:
        row = dict(src_data.runs[rid])
        row["experiment_id"] = exp_map[row["experiment_id"]]
        row["environment_id"] = env_map.get(row["environment_id"])
        if row["parent_run_id"]:
            parents.append({"_id": rid, "_parent": row["parent_run_id"]})
            row["parent_run_id"] = None
        rows.append(row)
    insert_rows(dst, Run.__table__, rows)
    if parents:  # a parent may come later in this batch: set them once all exist
        dst.execute(update(Run).where(Run.id == bindparam("_id"))
                    .values(parent_run_id=bindparam("_parent")), parents)
    for part in chunks(new):  # a run deleted at the target may have left its origin behind
        dst.execute(delete(SyncOrigin).where(member(dst, SyncOrigin.run_id, part)))
    insert_rows(dst, SyncOrigin.__table__, [
        {"run_id": rid, "peer": src_data.origins.get(rid, src_id)} for rid in new])
    insert_rows(dst, Param.__table__, [{"run_id": r, "key": k, "value": v} for r in new
                                       for k, v in src_data.params.get(r, {}).items()])
    insert_rows(dst, Tag.__table__, [{"run_id": r, "key": k, "value": v} for r in new
                                     for k, v in src_data.tags.get(r, {}).items()])
    new_chunks = [{k: v for k, v in c.items() if k != "id"}
                  for r in new for c in src_data.chunks.get(r, [])]
    insert_rows(dst, MetricChunk.__table__, new_chunks)
    fresh = set(new)
    new_latest = [row for (r, _k), row in src_data.latest.items() if r in fresh]
    insert_rows(dst, LatestMetric.__table__, new_latest)
    out.counts["runs_new"] = len(new)
    out.counts["params"] += sum(len(src_data.params.get(r, {})) for r in new)
    out.counts["tags"] += sum(len(src_data.tags.get(r, {})) for r in new)
    out.counts["metric_points"] += sum(c["n"] for c in new_chunks)
    arts = [a for r in new for a in src_data.artifacts.get(r, [])]
    snaps = [s for r in new for s in src_data.snapshots.get(r, [])]

    # Runs the target has: merge by the rules of sync.py.
    if old:
        tgt_chunks = read_runs(dst, old, with_chunks=True).chunks
        for rid in old:
            a, s = _merge_run(dst, rid, src_data, tgt, tgt_chunks, src_id, dst_id,
                              owner_name, out, keep_out)
            arts += a
            snaps += s
    _insert_artifacts(dst, arts, out)
    _insert_snapshots(dst, snaps, out)
    return out


def _map_experiments(dst: Connection, data: RunData) -> dict[int, int]:
    from jupyter_mlops.store.engine import upsert

    names = {e["name"]: e for e in data.experiments.values()}
    if names:
        stmt = upsert(dst, Experiment.__table__).on_conflict_do_nothing(index_elements=["name"])
        dst.execute(stmt, [{"name": e["name"], "description": e["description"],
                            "created_at": e["created_at"]} for e in names.values()])
    ids = dict(dst.execute(select(Experiment.name, Experiment.id)
                           .where(Experiment.name.in_(sorted(names)))).all()) if names else {}
    return {eid: ids[e["name"]] for eid, e in data.experiments.items()}


def _map_environments(dst: Connection, data: RunData) -> dict[int, int]:
    from jupyter_mlops.store.engine import upsert

    envs = {e["digest"]: e for e in data.environments.values()}
    if not envs:
        return {}
    stmt = upsert(dst, Environment.__table__).on_conflict_do_nothing(index_elements=["digest"])
    dst.execute(stmt, [{k: v for k, v in e.items() if k != "id"} for e in envs.values()])
    ids = dict(dst.execute(select(Environment.digest, Environment.id)
                           .where(Environment.digest.in_(sorted(envs)))).all())
    return {eid: ids[e["digest"]] for eid, e in data.environments.items()}


def _merge_run(dst: Connection, rid: str, src: RunData, tgt: RunData,
               tgt_chunks: dict[str, list[dict]], src_id: str, dst_id: str,
               owner_name: dict[str, str], out: RunMerge,
               keep_out: Callable[[str, str], bool] | None = None,
               ) -> tuple[list[dict], list[dict]]:
    """One run both stores hold; returns (artifacts, snapshots) the target lacks."""
    s_run, t_run = src.runs[rid], tgt.runs[rid]
    owner = src.origins.get(rid, src_id)  # the store that created the run
    source_owns = owner == src_id
    whose = owner_name.get(owner, f"store {owner}")
    short = rid[:8]
    # The run row: only from its owner, and never over a finished run at the target.
    fields = ("status", "end_time", "heartbeat_at", "name", "reproducible",
              "not_reproducible_reason")
    differs = {f: s_run[f] for f in fields if s_run[f] != t_run[f]}
    if differs:
        if source_owns and t_run["status"] == RUNNING and (
                s_run["status"] != RUNNING or s_run["heartbeat_at"] >= t_run["heartbeat_at"]):
            dst.execute(update(Run).where(Run.id == rid).values(**differs))
            out.counts["runs_updated"] += 1
        elif {"status", "end_time"} & set(differs):
            out.conflicts.append(
                f"run {short}: the target has it {t_run['status']}"
                f"{' (finished: never overwritten)' if t_run['status'] != RUNNING else ''}, "
                f"the source {s_run['status']}; kept the target's (the run belongs to "
                f"{whose}: end it there and sync again).")
    # Params: written once; a different value is a conflict, the target's stays.
    s_params, t_params = src.params.get(rid, {}), tgt.params.get(rid, {})
    add = [{"run_id": rid, "key": k, "value": v} for k, v in s_params.items()
           if k not in t_params]
    insert_rows(dst, Param.__table__, add)
    out.counts["params"] += len(add)
    for k, v in s_params.items():
        if k in t_params and t_params[k] != v:
            out.conflicts.append(
                f"run {short} param {k!r}: the target has {t_params[k]!r}, the source "
                f"{v!r}; kept the target's (params are written once: log the new value "
                "under another key).")
    # Tags: missing ones added; a different value is the owner's to decide.
    s_tags, t_tags = src.tags.get(rid, {}), tgt.tags.get(rid, {})
    add = [{"run_id": rid, "key": k, "value": v} for k, v in s_tags.items()
           if k not in t_tags and not (keep_out and keep_out(rid, k))]
    insert_rows(dst, Tag.__table__, add)
    out.counts["tags"] += len(add)
    for k, v in s_tags.items():
        if k in t_tags and t_tags[k] != v:
            if source_owns:
                dst.execute(update(Tag).where(Tag.run_id == rid, Tag.key == k).values(value=v))
                out.counts["tags"] += 1
            else:
                out.conflicts.append(
                    f"run {short} tag {k!r}: the target has {t_tags[k]!r}, the source {v!r}; "
                    f"kept the target's (the run belongs to {whose}: set the tag there).")
    _merge_metrics(dst, rid, src, tgt, tgt_chunks, out)
    # Artifacts by name: new names copied; the same name with other bytes is a conflict.
    t_arts = {a["name"]: a["digest"] for a in tgt.artifacts.get(rid, [])}
    arts = []
    for a in src.artifacts.get(rid, []):
        if a["name"] not in t_arts:
            arts.append(a)
        elif t_arts[a["name"]] != a["digest"]:
            out.conflicts.append(
                f"run {short} artifact {a['name']!r}: different contents at the target; kept "
                "the target's (log the new file under another name).")
    t_snaps = {(s["digest"], s["created_at"]) for s in tgt.snapshots.get(rid, [])}
    snaps = [s for s in src.snapshots.get(rid, []) if (s["digest"], s["created_at"])
             not in t_snaps]
    return arts, snaps


def _merge_metrics(dst: Connection, rid: str, src: RunData, tgt: RunData,
                   tgt_chunks: dict[str, list[dict]], out: RunMerge) -> None:
    """Append the source's points the target lacks, by (key, step, timestamp)."""
    from jupyter_mlops.store.metric_chunks import pack

    s_by_key: dict[str, list[dict]] = {}
    for c in src.chunks.get(rid, []):
        s_by_key.setdefault(c["key"], []).append(c)
    t_by_key: dict[str, list[dict]] = {}
    for c in tgt_chunks.get(rid, []):
        t_by_key.setdefault(c["key"], []).append(c)
    for key, s_chunks in s_by_key.items():
        s_points = _points(s_chunks)
        have = Counter((p[1], p[2]) for p in _points(t_by_key.get(key, [])))
        new = []
        for p in s_points:
            if have[(p[1], p[2])] > 0:
                have[(p[1], p[2])] -= 1
            else:
                new.append(p)
        if not new:
            continue
        data, first, last = pack(new)
        insert_rows(dst, MetricChunk.__table__, [{
            "run_id": rid, "key": key, "n": len(new), "first_step": first, "last_step": last,
            "data": data}])
        out.counts["metric_points"] += len(new)
        best = max(reversed(new), key=lambda p: (p[1], p[2]))  # the last logged of the newest
        value = None if math.isnan(best[0]) else best[0]
        current = tgt.latest.get((rid, key))
        if current is None:
            insert_rows(dst, LatestMetric.__table__, [{
                "run_id": rid, "key": key, "value": value, "step": best[1],
                "timestamp": best[2], "count": len(new)}])
            continue
        values = {"count": current["count"] + len(new)}
        if (best[1], best[2]) >= (current["step"], current["timestamp"]):
            values.update(value=value, step=best[1], timestamp=best[2])
        dst.execute(update(LatestMetric).where(LatestMetric.run_id == rid,
                                               LatestMetric.key == key).values(**values))


def _insert_artifacts(dst: Connection, arts: list[dict], out: RunMerge) -> None:
    insert_rows(dst, Artifact.__table__, [{k: v for k, v in a.items() if k != "id"}
                                          for a in arts])
    out.counts["artifacts"] += len(arts)


def _insert_snapshots(dst: Connection, snaps: list[dict], out: RunMerge) -> None:
    insert_rows(dst, CodeSnapshot.__table__, [{k: v for k, v in s.items() if k != "id"}
                                              for s in snaps])
    out.counts["code_snapshots"] += len(snaps)


def needed_digests(data: RunData) -> set[str]:
    """Blobs the source's rows for these runs point at (copied before the rows commit)."""
    out = {a["digest"] for arts in data.artifacts.values() for a in arts}
    for snaps in data.snapshots.values():
        out |= {s["digest"] for s in snaps}
        out |= {s["git_diff_digest"] for s in snaps if s["git_diff_digest"]}
    return out

