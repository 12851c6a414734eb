"""PostgreSQL's write statements for runs: each write of a small run is ONE statement.

Why: on a team server every statement is a network round trip, and every transaction a WAL
flush. SQLAlchemy's ``executemany`` sends a flush of one run as BEGIN, three pipelined
batches and COMMIT. Here a flush is a single statement — data-modifying CTEs, one per
table, each ``INSERT … SELECT FROM unnest(array, …)`` — run in autocommit
(:func:`~jupyter_mlops.store.engine.single_statement`): one round trip, one commit, atomic
like any statement. The text never depends on how many rows there are (the rows travel as
arrays), so psycopg prepares it once per connection and the server plans it once.

SQLite keeps the executemany path (``runs.RunStore`` and ``lite``): there a statement is a
function call, not a round trip.
"""

from __future__ import annotations

from collections.abc import Sequence

#: The same rule as lite._UPSERT_LATEST: the incoming point replaces the stored one when it
#: is at a later step, or at the same step and not older; the count always adds up.
_NEWER = ("(excluded.step > latest_metrics.step OR (excluded.step = latest_metrics.step "
          "AND excluded.timestamp >= latest_metrics.timestamp))")

#: Params, tags, metric chunks and latest metrics of one run. Empty arrays insert nothing.
LOG_BATCH = f"""
WITH p AS (
  INSERT INTO params (run_id, key, value)
  SELECT %(run_id)s, k, v FROM unnest(%(pk)s::text[], %(pv)s::text[]) AS u(k, v)
  ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value
), t AS (
  INSERT INTO tags (run_id, key, value)
  SELECT %(run_id)s, k, v FROM unnest(%(tk)s::text[], %(tv)s::text[]) AS u(k, v)
  ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value
), c AS (
  INSERT INTO metric_chunks (run_id, key, n, first_step, last_step, data)
  SELECT %(run_id)s, k, n, f, l, d
  FROM unnest(%(ck)s::text[], %(cn)s::int[], %(cf)s::bigint[], %(cl)s::bigint[],
              %(cd)s::bytea[]) WITH ORDINALITY AS u(k, n, f, l, d, i)
  ORDER BY i
)
INSERT INTO latest_metrics (run_id, key, value, step, timestamp, count)
SELECT %(run_id)s, k, v, s, ts, n
FROM unnest(%(lk)s::text[], %(lv)s::float8[], %(ls)s::bigint[], %(lt)s::float8[],
            %(ln)s::bigint[]) AS u(k, v, s, ts, n)
ON CONFLICT (run_id, key) DO UPDATE SET
  value = CASE WHEN {_NEWER} THEN excluded.value ELSE latest_metrics.value END,
  step = CASE WHEN {_NEWER} THEN excluded.step ELSE latest_metrics.step END,
  timestamp = CASE WHEN {_NEWER} THEN excluded.timestamp ELSE latest_metrics.timestamp END,
  count = latest_metrics.count + excluded.count
"""

#: A new run and its initial tags (none: an empty array).
CREATE_RUN = """
WITH r AS (
  INSERT INTO runs (id, experiment_id, name, status, "user", start_time, heartbeat_at,
                    parent_run_id, writer, environment_id)
  VALUES (%(id)s, %(experiment_id)s, %(name)s, 'RUNNING', %(user)s, %(start)s, %(t)s,
          %(parent_run_id)s, %(writer)s, %(environment_id)s)
  RETURNING id
)
INSERT INTO tags (run_id, key, value)
SELECT r.id, k, v FROM r, unnest(%(tk)s::text[], %(tv)s::text[]) AS u(k, v)
"""


def log_batch_params(run_id: str, params: dict[str, str], tags: dict[str, str],
                     chunks: Sequence[tuple], latest: Sequence[tuple]) -> dict:
    """The parameters of :data:`LOG_BATCH`: one array per column."""
    ck, cn, cf, cl, cd = (list(col) for col in zip(*chunks)) if chunks else ([],) * 5
    lk, lv, ls, lt, ln = (list(col) for col in zip(*latest)) if latest else ([],) * 5
    return {"run_id": run_id, "pk": list(params), "pv": list(params.values()),
            "tk": list(tags), "tv": list(tags.values()),
            "ck": ck, "cn": cn, "cf": cf, "cl": cl, "cd": cd,
            # float(): one array type whatever mix of int and float the values were.
            "lk": lk, "lv": [None if v is None else float(v) for v in lv], "ls": ls,
            "lt": [float(t) for t in lt], "ln": ln}
