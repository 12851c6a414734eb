"""Lineage edges and graph walks: dataset → run → artifact/model → … (P4, P7).

Nodes are ``type:id`` strings so later components (registry models, monitors, pipeline steps)
join the graph without a schema change.
"""

from __future__ import annotations

from sqlalchemy import or_, select, tuple_

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.store.engine import now, read_connection, upsert, write_connection
from jupyter_mlops.store.interfaces import AbstractLineageStore
from jupyter_mlops.store.orm import Artifact, DatasetVersion, FeatureView, LineageEdge, Run
from jupyter_mlops.store.records import LineageEdgeRecord, LineageGraph, LineageNode
from jupyter_mlops.validation import INT64_MAX, ascii_digits

NODE_TYPES = ("run", "dataset", "artifact", "model", "cell", "pipeline", "monitor",
              "feature_view", "training_set", "materialization")
MAX_NODES = 2000


def parse_node(node: str) -> tuple[str, str]:
    """Split ``"run:abc"`` into ``("run", "abc")`` with a clear error for anything else."""
    kind, sep, ident = str(node).partition(":")
    if not sep or kind not in NODE_TYPES or not ident or len(ident) > 256:
        raise InvalidInputError(
            f"Lineage nodes look like 'run:<id>' or 'dataset:<id>' (types: "
            f"{', '.join(NODE_TYPES)}); got {node!r}.")
    return kind, ident


class LineageStore(AbstractLineageStore):
    def __init__(self, url: str):
        self.url = url

    def add_edge(self, src_type: str, src_id: str, dst_type: str, dst_id: str,
                 relation: str) -> None:
        with write_connection(self.url) as conn:
            stmt = upsert(conn, LineageEdge.__table__).values(
                src_type=src_type, src_id=src_id, dst_type=dst_type, dst_id=dst_id,
                relation=relation, created_at=now())
            conn.execute(stmt.on_conflict_do_nothing(
                index_elements=["src_type", "src_id", "dst_type", "dst_id", "relation"]))

    def sources_of(self, node: str, src_type: str, relation: str) -> list[str]:
        """Ids of the ``src_type`` nodes with a ``relation`` edge into ``node`` (one hop)."""
        dst_type, dst_id = parse_node(node)
        e = LineageEdge
        with read_connection(self.url) as conn:
            return list(conn.execute(select(e.src_id).where(
                e.dst_type == dst_type, e.dst_id == dst_id, e.src_type == src_type,
                e.relation == relation)).scalars())

    def graph(self, node: str, depth: int = 10) -> LineageGraph:
        """Everything upstream and downstream of ``node`` within ``depth`` hops."""
        root = ":".join(parse_node(node))
        e = LineageEdge
        seen = {root}
        frontier = {parse_node(root)}
        edges: set[tuple[str, str, str]] = set()
        with read_connection(self.url) as conn:
            for _ in range(depth):
                if not frontier or len(seen) > MAX_NODES:
                    break
                keys = list(frontier)
                rows = conn.execute(select(e.src_type, e.src_id, e.dst_type, e.dst_id, e.relation)
                                    .where(or_(tuple_(e.src_type, e.src_id).in_(keys),
                                               tuple_(e.dst_type, e.dst_id).in_(keys)))).all()
                frontier = set()
                for st, si, dt, di, rel in rows:
                    src, dst = f"{st}:{si}", f"{dt}:{di}"
                    edges.add((src, dst, rel))
                    for t, i, full in ((st, si, src), (dt, di, dst)):
                        if full not in seen:
                            seen.add(full)
                            frontier.add((t, i))
            labels = self._labels(conn, seen)
        nodes = [LineageNode(n, n.partition(":")[0], labels.get(n, n)) for n in sorted(seen)]
        return LineageGraph(root, nodes, [LineageEdgeRecord(*x) for x in sorted(edges)])

    @staticmethod
    def _labels(conn, node_ids: set[str]) -> dict[str, str]:
        by_type: dict[str, list[str]] = {}
        for n in node_ids:
            t, _, i = n.partition(":")
            by_type.setdefault(t, []).append(i)
        labels: dict[str, str] = {}
        for ident in by_type.get("cell", []):  # "<source hash>-<execution count>"
            digest, _, count = ident.rpartition("-")
            labels[f"cell:{ident}"] = f"In [{count}] {digest[:8]}" if digest else ident
        if "run" in by_type:
            for rid, name in conn.execute(select(Run.id, Run.name).where(
                    Run.id.in_(by_type["run"]))):
                labels[f"run:{rid}"] = name
        # Only ASCII digits within int64 can be row ids ("²" would make int() raise, 20
        # digits overflow the column): anything else simply has no label.
        ints = {t: [n for n in (int(i) for i in ids if ascii_digits(i) and len(i) <= 19)
                    if n <= INT64_MAX] for t, ids in by_type.items()}
        if ints.get("dataset"):
            for did, name, ver in conn.execute(select(
                    DatasetVersion.id, DatasetVersion.name, DatasetVersion.version)
                    .where(DatasetVersion.id.in_(ints["dataset"]))):
                labels[f"dataset:{did}"] = f"{name} v{ver}"
        if ints.get("artifact"):
            for aid, name in conn.execute(select(Artifact.id, Artifact.name).where(
                    Artifact.id.in_(ints["artifact"]))):
                labels[f"artifact:{aid}"] = name
        # Feature store (issue 16): a view version and its online table by the view's name
        # ("driver_stats@2", "driver_stats@2 online"); a training set by its digest's head.
        views = [*ints.get("feature_view", ()), *ints.get("materialization", ())]
        if views:
            for vid, name, ver in conn.execute(select(
                    FeatureView.id, FeatureView.name, FeatureView.version)
                    .where(FeatureView.id.in_(views))):
                labels[f"feature_view:{vid}"] = f"{name}@{ver}"
                labels[f"materialization:{vid}"] = f"{name}@{ver} online"
        for digest in by_type.get("training_set", []):
            labels[f"training_set:{digest}"] = f"training set {digest[:8]}"
        return {n: label for n, label in labels.items() if n in node_ids}
