"""Garbage collection of one store: dead runs and pipeline runs, blobs checked and pruned."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jupyter_mlops.client.stores import ComponentStores
    from jupyter_mlops.store import Store
    from jupyter_mlops.store.blobs import GcReport as BlobGcReport


@dataclasses.dataclass(frozen=True)
class GcReport:
    """What :meth:`Client.gc` did: run ids and pipeline run ids marked KILLED, the blob check.

    ``blobs`` is the :class:`jupyter_mlops.store.blobs.GcReport` of the artifact store
    (deleted, corrupt and missing blobs); ``ok`` is false when a referenced blob is missing or
    corrupt.
    """

    runs_killed: list[str]
    pipeline_runs_killed: list[str]
    blobs: BlobGcReport
    #: Missing digest → what still points at it ("artifact 'model.pkl' of run …").
    missing_used_by: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(getattr(self.blobs, "ok", True))


def collect_garbage(store: Store, stores: ComponentStores, dry_run: bool = False) -> GcReport:
    """Mark dead runs and their pipeline runs KILLED, verify blobs, prune unreferenced ones.

    See :meth:`jupyter_mlops.client.Client.gc`.
    """
    killed = store.take_reaped_on_open() + store.reap_dead_runs()
    # After the runs: a pipeline run whose tracked run was just marked KILLED goes too.
    pipelines = stores.pipelines.reap_pipeline_runs()
    blobs = store.blobs.gc(store.catalog.referenced_digests(), dry_run=dry_run)
    return GcReport(runs_killed=killed, pipeline_runs_killed=pipelines, blobs=blobs,
                    missing_used_by=store.catalog.digest_users(blobs.missing))
