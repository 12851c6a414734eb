"""Reading runs back: details, id prefixes, search with hints, metric history, lineage."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from jupyter_mlops.display import RunList
from jupyter_mlops.errors import InvalidInputError, NotFoundError
from jupyter_mlops.store.records import (
    ArtifactRecord,
    DatasetVersionRecord,
    LineageGraph,
    MetricPoint,
    RunDetail,
    RunRecord,
)
from jupyter_mlops.validation import check_run_id

if TYPE_CHECKING:
    from jupyter_mlops.config import Locations
    from jupyter_mlops.store import Store


class RunReads:
    """Read methods of the tracking facet (mixed into RunsClient)."""

    store: Store
    location: Locations
    flush: Callable[[], None]
    _environment_recorded: Callable[[], None]

    def get_run(self, run_id: str) -> RunDetail:
        self.flush()  # read-your-writes within one process
        self._environment_recorded()
        run_id = self._full_run_id(run_id)
        run = self.store.runs.get_run(run_id)
        cat = self.store.catalog
        return RunDetail(run=run, metric_keys=self.store.runs.metric_keys(run_id),
                         artifacts=cat.list_artifacts(run_id), datasets=cat.datasets_of_run(run_id),
                         code=cat.code_snapshot(run_id), environment=cat.environment_of_run(run_id),
                         children=self.store.runs.child_run_ids(run_id))

    def resolve_run_id(self, text: str) -> str:
        """A full run id from a full id or a unique prefix (tables print the first 12)."""
        return self.resolve_id("run", text)

    def _full_run_id(self, run_id: Any) -> str:
        # Our generated ids are 32 characters: those go straight to the store (which says
        # "does not exist"), sparing the hot paths a query; anything else may be a prefix.
        if isinstance(run_id, str) and len(run_id) == 32:
            return run_id
        return self.resolve_id("run", run_id)

    def resolve_id(self, kind: str, text: Any) -> str:
        """The one id of kind ``run``, ``dataset``, ``artifact`` or ``model`` that ``text`` names.

        ``text`` is a full id or, like git, a unique prefix of at least 4 characters (a run
        id, a dataset's or model file's digest; ``name/version`` for a model version).
        Other lineage kinds (cell, pipeline, monitor) are returned unchanged.

        Raises
        ------
        NotFoundError
            Nothing has that id or prefix in this store (the message names the store).
        InvalidInputError
            ``text`` cannot be an id, or the prefix matches several records (the message
            lists up to 5 of them, with their names).
        """
        from jupyter_mlops.store.ids import MIN_PREFIX, find_ids

        text = str(getattr(text, "id", text)).strip()
        if kind == "run":
            check_run_id(text)
        elif not text or len(text) > 256:
            raise InvalidInputError(f"{text[:40]!r} is not a {kind} id (1–256 characters).")
        matches = find_ids(self.store.url, kind, text)
        if len(matches) == 1:
            return matches[0][0]
        if not matches:
            short = (f" (a prefix needs at least {MIN_PREFIX} characters)"
                     if len(text) < MIN_PREFIX else "")
            raise NotFoundError(f"No {kind} {text!r} in {self.location.describe()}{short}. "
                                f"{_LIST_HINT.get(kind, '')}".rstrip())
        shown = "; ".join(f"{i} ({label})" if label else i for i, label in matches[:5])
        more = ", and more" if len(matches) > 5 else ""
        raise InvalidInputError(f"{text!r} is the start of several {kind} ids: {shown}{more}. "
                                "Give more characters.")

    def resolve_node(self, node: Any) -> str:
        """``"kind:full id"`` for a lineage node given with a full id or a unique prefix."""
        from jupyter_mlops.store.lineage import parse_node

        kind, ident = parse_node(_node_id(node))
        return f"{kind}:{self.resolve_id(kind, ident)}"

    def search_runs(self, filter: str | None = None, experiment: str | None = None,
                    order_by: Sequence[str] | str | None = None, max_results: int = 100,
                    offset: int = 0, *, warn: bool = True, lifecycle: str = "active") -> RunList:
        """Runs matching the filter language (see :mod:`jupyter_mlops.store.filters`).

        Runs of a deleted experiment are left out until it is restored (MLflow's active
        view); ``lifecycle="deleted"`` lists only those, ``"all"`` both. ``get_run`` reads
        any run by its id.

        Returns
        -------
        RunList
            A plain list of :class:`RunRecord` that renders as a table (HTML in a notebook,
            text for ``print``). Its ``hint`` is None, or names the filter's keys that no run
            has with the closest keys the store knows.

        Warns
        -----
        UnknownFilterKeyWarning
            With the same hint, when ``warn`` (front doors that show the hint themselves
            pass ``warn=False``).
        """
        found = self.store.runs.search_runs(filter, experiment, order_by, max_results, offset,
                                            lifecycle=lifecycle)
        hint = self.filter_hint(filter)
        if hint and warn:
            import warnings

            from jupyter_mlops.errors import UnknownFilterKeyWarning

            warnings.warn(hint, UnknownFilterKeyWarning, stacklevel=2)
        return RunList(found, hint)

    def filter_hint(self, filter: str | None) -> str | None:
        """Why a filter may find nothing: each key it names that no run has, and the closest
        known keys (``difflib``); None when every key exists (or the filter has none)."""
        if not filter:  # nothing to hint at: skip the import (SQLAlchemy) behind it
            return None
        from jupyter_mlops.store.filter_hints import filter_text_hint

        return filter_text_hint(self.store.url, filter)

    def count_runs(self, filter: str | None = None, experiment: str | None = None, *,
                   lifecycle: str = "active") -> int:
        return self.store.runs.count_runs(filter, experiment, lifecycle=lifecycle)

    def latest_points(self, run_ids: list[str]) -> dict[str, dict[str, MetricPoint]]:
        """Each run's metrics as their latest points (value, step, time)."""
        self.flush()
        return self.store.runs.latest_points(run_ids)

    def metric_history(self, run_id: str, key: str,
                       max_points: int | None = None) -> list[MetricPoint]:
        self.flush()
        return self.store.runs.metric_history(self._full_run_id(run_id), key, max_points)

    def lineage(self, node: Any, depth: int = 10) -> LineageGraph:
        """Upstream and downstream graph of a run id, ``"type:id"`` string or record.

        Ids may be unique prefixes (see :meth:`resolve_id`); an id nothing has raises
        NotFoundError, so "no lineage" always means a record that exists without edges.
        """
        return self.store.lineage.graph(self.resolve_node(node), depth)


_LIST_HINT = {
    "run": "List runs with `jupyter mlops runs list` (or `%mlops runs`).",
    "dataset": "`jupyter mlops runs show <run>` lists the datasets of a run.",
    "artifact": "`jupyter mlops runs show <run>` lists the artifacts of a run.",
    "model": "List models with `jupyter mlops models list`.",
}


def _node_id(node: Any) -> str:
    if isinstance(node, RunRecord | RunDetail):
        return f"run:{node.id}"
    if isinstance(node, DatasetVersionRecord):
        return f"dataset:{node.id}"
    if isinstance(node, ArtifactRecord):
        return f"artifact:{node.id}"
    text = str(getattr(node, "id", node))
    return text if ":" in text else f"run:{text}"
