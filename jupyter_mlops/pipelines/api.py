"""Reading pipeline runs back (what ``jupyter mlops pipeline list|show`` and the UI show).

``client`` is required: the caller says which store to read (the fluent API passes its
default client; ``client.pipelines`` passes itself).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the Client's shape, for type checkers only
    from jupyter_mlops.ports import ComponentStoresHolder


def _pstore(client: ComponentStoresHolder):
    return client.stores.pipelines


def get_pipeline_run(pipeline_run_id: str, client: ComponentStoresHolder):
    """One pipeline run with its steps (a unique id prefix is enough).

    Raises
    ------
    NotFoundError
        No such pipeline run.
    """
    return _pstore(client).get_pipeline_run(pipeline_run_id)


def list_pipeline_runs(pipeline: str | None = None, limit: int = 50, *,
                       client: ComponentStoresHolder):
    """Newest pipeline runs first (without step details), optionally of one pipeline."""
    return _pstore(client).list_pipeline_runs(pipeline, limit)


def list_pipelines(client: ComponentStoresHolder):
    """Every pipeline that has run here, by name (its stored spec is the latest run's)."""
    return _pstore(client).list_pipelines()


def get_pipeline(name: str | int, client: ComponentStoresHolder):
    """One pipeline by name or id.

    Raises
    ------
    NotFoundError
        No pipeline of that name has run in this store.
    """
    return _pstore(client).get_pipeline(name)
