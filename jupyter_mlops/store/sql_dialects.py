"""What differs between SQLite and PostgreSQL in the SQL text the driver-level paths write.

Two paths answer a fresh process's first calls without SQLAlchemy: :mod:`~jupyter_mlops.store.
lite` on the stdlib ``sqlite3`` and :mod:`~jupyter_mlops.store.pg_lite` on psycopg. Both run
statements compiled by :mod:`~jupyter_mlops.store.lite_search`; the few places where the two
databases need different text — placeholders, the case-sensitive ``like``, the numeric-text
test, boolean constants, how the run view and the metric walk are joined — are the methods of
a :class:`Dialect` here, each written as SQLAlchemy renders it for that database (so the
planner sees the statements the SQLAlchemy path sends). Only fixed text is produced: values
go to ``args`` and appear in the text as placeholders. No imports: both paths load this first.
"""

from __future__ import annotations


class Dialect:
    """The SQLite text (the stdlib ``sqlite3`` module's ``?`` placeholders)."""

    name = "sqlite"
    true, false = "1", "0"
    #: What a search selects: the run columns of a record, in :meth:`run_row`'s order.
    run_columns = ('runs.id, runs.experiment_id, experiments.name, runs.name, runs.status, '
                   'runs."user", runs.start_time, runs.end_time, runs.parent_run_id, '
                   "runs.reproducible, runs.not_reproducible_reason")
    #: The metric walk's joins (lite_search.MetricSearch), as the SQLite path has always
    #: written them (SQLite's planner reorders inner joins by cost).
    walk_from = ("latest_metrics AS lm JOIN runs ON runs.id = lm.run_id "
                 "JOIN experiments ON experiments.id = runs.experiment_id")
    #: Whether the metric walk first reads the value of its n-th index entry to bound the
    #: walk (metric_order.page's ``bound``).
    bounds_walk = True
    #: ``runs`` (alias ``r``) as a search for running runs reads it (lite.TextRunReads.
    #: reap_dead_runs says why SQLite needs the index named).
    runs_by_status = "runs r INDEXED BY ix_runs_status"

    def run_row(self, row: tuple) -> tuple:
        """A searched row as ``(id, experiment_id, experiment name, name, status, user,
        start_time, end_time, parent_run_id, reproducible, not_reproducible_reason)``."""
        return row

    def mark(self, value: object) -> str:
        """The placeholder of one bound ``value``."""
        return "?"

    def bind(self, value: object, args: list) -> str:
        """Append ``value`` to ``args``; its placeholder."""
        args.append(value)
        return self.mark(value)

    def marks(self, values, args: list) -> str:
        """``values`` bound one by one, their placeholders joined by commas."""
        return ", ".join(self.bind(v, args) for v in values)

    def like(self, column: str, pattern: str, glob: str, insensitive: bool,
             args: list) -> str:
        """``column`` matched by ``like``/``ilike`` (``pattern`` has ``\\`` as its escape;
        ``glob`` is the same pattern for GLOB): SQLite's LIKE ignores case, GLOB does not."""
        if insensitive:
            return f"lower({column}) LIKE lower({self.bind(pattern, args)}) ESCAPE '\\'"
        return f"{column} GLOB {self.bind(glob, args)}"

    def matches(self, column: str, regex: str, args: list) -> str:
        """``column`` matches the regular expression ``regex`` (lite registers REGEXP)."""
        return f"({column} REGEXP {self.bind(regex, args)})"

    def run_view(self, lifecycle: str, args: list) -> str | None:
        """The condition that keeps the runs of ``lifecycle`` in a search that joined
        ``experiments``; None for ``all``."""
        from jupyter_mlops.store.lite import run_view_sql

        return run_view_sql(lifecycle, "experiments")


class PostgresDialect(Dialect):
    """The PostgreSQL text, with psycopg's ``%s`` placeholders and the casts SQLAlchemy's
    psycopg dialect adds to them (``::VARCHAR`` on text, ``::INTEGER`` on LIMIT/OFFSET)."""

    name = "postgresql"
    true, false = "true", "false"
    # RunStore's select list (every run column and the experiment's name): the planner
    # weighs row widths (whether to Memoize a probe of runs, …), so the plans stay its own.
    run_columns = ('runs.id, runs.experiment_id, runs.name, runs.status, runs."user", '
                   "runs.start_time, runs.end_time, runs.heartbeat_at, runs.parent_run_id, "
                   "runs.writer, runs.environment_id, runs.reproducible, "
                   "runs.not_reproducible_reason, experiments.name AS experiment_name")
    _ROW = (0, 1, 13, 2, 3, 4, 5, 6, 8, 11, 12)  # run_columns -> run_row's order
    # The FROM of RunStore._metric_page's walk, term for term: past join_collapse_limit
    # PostgreSQL keeps the written join order, so it is written as that path writes it.
    walk_from = ("runs JOIN experiments ON experiments.id = runs.experiment_id "
                 "JOIN latest_metrics AS lm ON lm.run_id = runs.id")
    # RunStore._metric_page: a bound made PostgreSQL expect fewer rows than the page and
    # hash-join the whole experiment; it weighs the walk itself from its statistics.
    bounds_walk = False
    runs_by_status = "runs r"

    def run_row(self, row: tuple) -> tuple:
        return tuple(row[i] for i in self._ROW)

    def mark(self, value: object) -> str:
        if isinstance(value, str):
            return "%s::VARCHAR"
        if isinstance(value, int) and not isinstance(value, bool):
            return "%s::INTEGER"
        return "%s"

    def like(self, column: str, pattern: str, glob: str, insensitive: bool,
             args: list) -> str:
        operator = "ILIKE" if insensitive else "LIKE"
        return f"{column} {operator} {self.bind(pattern, args)} ESCAPE '\\'"

    def matches(self, column: str, regex: str, args: list) -> str:
        return f"({column} ~ {self.bind(regex, args)})"

    def run_view(self, lifecycle: str, args: list) -> str | None:
        # RunStore._filtered's semi-join (IN, not a condition on the joined table: PostgreSQL
        # estimates it from the experiments' statistics), 'deleted' bound as it binds it.
        from jupyter_mlops.store.lite import check_run_view

        if check_run_view(lifecycle) == "all":
            return None
        op = "!=" if lifecycle == "active" else "="
        return ("runs.experiment_id IN (SELECT experiments.id FROM experiments WHERE "
                f"experiments.lifecycle_stage {op} {self.bind('deleted', args)})")


SQLITE = Dialect()
POSTGRES = PostgresDialect()

__all__ = ["POSTGRES", "SQLITE", "Dialect", "PostgresDialect"]
