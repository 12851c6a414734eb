"""Whole-store upkeep the front doors ask for by URL: schema upgrade, revision, copy.

At the client level (above the store, below the front doors): ``jupyter mlops db`` and
``jupyter mlops migrate`` work on a store that may not open as a Client yet (an old schema,
an empty target), so these take the store's URL rather than a Client, and the CLI never
imports :mod:`jupyter_mlops.store` itself.
"""

from __future__ import annotations

from collections.abc import Callable


def upgrade_schema(tracking_uri: str) -> tuple[str | None, str]:
    """Migrate the store at ``tracking_uri`` to this version's schema.

    Returns
    -------
    (before, after)
        The revision found (None for an empty database) and the one now stored.
    """
    from jupyter_mlops.store.migrate import upgrade

    return upgrade(tracking_uri)


def schema_revision(tracking_uri: str) -> tuple[str | None, str]:
    """The store's schema revision, read only, and the one this version expects.

    Read only: opening the store normally would switch a stranger's SQLite file to WAL.
    """
    from jupyter_mlops.store.migrate import HEAD_REVISION, stored_revision

    return stored_revision(tracking_uri), HEAD_REVISION


def copy_store(source: str, target: str, from_artifacts: str | None, to_artifacts: str | None,
               *, batch_rows: int = 2000, progress: Callable[[str], None] | None = None,
               resume: bool = False):
    """Copy a whole store (rows and blobs) into an empty one and verify it.

    See :func:`jupyter_mlops.store.transfer.migrate_store`, which this calls; it returns that
    function's report (``summary()``, ``missing_blobs``).
    """
    from jupyter_mlops.store.transfer import migrate_store

    return migrate_store(source, target, from_artifacts, to_artifacts, batch_rows=batch_rows,
                         progress=progress, resume=resume)


def sync_store(local_uri: str, local_artifacts: str, remote_uri: str,
               remote_artifacts: str | None, *, pull: bool = False,
               run_ids: list[str] | None = None,
               progress: Callable[[str], None] | None = None):
    """Push what the local store recorded since the last sync to ``remote_uri``, or pull.

    See :func:`jupyter_mlops.store.sync.sync_stores` (the rules, and what it raises); it
    returns that function's report. The remote's artifact root is ``remote_artifacts``, or,
    for a SQLite file, the ``artifacts`` folder beside it (as a Client on it would use).
    """
    from jupyter_mlops.store.sync import check_store_uri, sync_stores

    check_store_uri(remote_uri, "--from" if pull else "--to")
    if remote_artifacts is None and remote_uri.startswith("sqlite:///"):
        from jupyter_mlops.config import resolve_locations

        remote_artifacts = resolve_locations(remote_uri).artifact_root
    if pull:
        return sync_stores(remote_uri, local_uri, remote_artifacts, local_artifacts,
                           run_ids=run_ids, progress=progress)
    if run_ids is not None:
        from jupyter_mlops.errors import InvalidInputError

        raise InvalidInputError("--run selects runs to pull; use it with --from.")
    return sync_stores(local_uri, remote_uri, local_artifacts, remote_artifacts,
                       progress=progress)
