"""Feature views in a sync: each version, its statistics and its offline table's blob.

A view version is the same on two stores when its name and digest are (the digest covers the
definition and the rows). A version the target lacks is added under its number, or under the
next free number when the target's view of that name already has that number for other
content (noted in the report, as for dataset versions). Its dataset link follows the
dataset's own sync (none if the dataset did not travel). The lineage around views — dataset →
view → training set → run — travels with them (:func:`view_edges`, node ids rewritten by
:func:`~jupyter_mlops.store.sync_catalog.write_edges`). Online tables and their
materialization marks stay with each store: materialize on the target to serve from it.
Only a whole-store sync carries views (``--run`` selects runs, which views do not belong to).
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Connection, or_, select

from jupyter_mlops.store.orm import FeatureStat, FeatureView, LineageEdge
from jupyter_mlops.store.sync_catalog import CatalogMerge, VersionNumbers
from jupyter_mlops.store.sync_runs import insert_rows

#: Lineage nodes a view's edges may reach that sync can name at the target (a
#: materialization is per store, so its edges stay behind).
_VIEW_NODES = ("feature_view", "training_set")


def view_rows(src: Connection) -> tuple[list[dict], dict[int, list[dict]]]:
    """Every view version of the source, oldest first, and its statistics rows by view id."""
    views = [dict(r) for r in src.execute(
        select(FeatureView.__table__).order_by(FeatureView.id)).mappings()]
    stats: dict[int, list[dict]] = defaultdict(list)
    for r in src.execute(select(FeatureStat.__table__)).mappings():
        stats[r["view_id"]].append(dict(r))
    return views, stats


def view_digests(views: list[dict]) -> set[str]:
    """The blobs (offline tables) the views point at."""
    return {v["blob_digest"] for v in views}


def view_edges(src: Connection) -> list[dict]:
    """Lineage edges with a feature view or a training set at either end."""
    return [dict(r) for r in src.execute(select(LineageEdge.__table__).where(or_(
        LineageEdge.src_type.in_(_VIEW_NODES), LineageEdge.dst_type.in_(_VIEW_NODES))))
        .mappings()]


def write_views(dst: Connection, views: list[dict], stats: dict[int, list[dict]],
                out: CatalogMerge) -> None:
    """The view versions the target lacks, with their statistics; ``out.feature_views``
    maps every source view id to the target's (for the lineage edges)."""
    if not views:
        return
    known = VersionNumbers(dst, FeatureView.__table__, [v["name"] for v in views])

    def adjust(row: dict) -> None:  # the dataset, if it travelled too
        row["dataset_id"] = out.datasets.get(row["dataset_id"]) if row["dataset_id"] else None

    added = known.insert_missing(dst, FeatureView.__table__, views, "feature view",
                                 out.feature_views, out.notes, adjust)
    for v, new_id in added:
        insert_rows(dst, FeatureStat.__table__,
                    [{**s, "view_id": new_id} for s in stats.get(v["id"], [])])
    out.counts["feature_views"] += len(added)
