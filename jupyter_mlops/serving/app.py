"""The model server's ASGI application: ``/invocations``, ``/health``, ``/version``,
``/metrics`` and ``/feedback``.

A bare ASGI callable rather than a web framework: five fixed routes do not need routing
tables or middleware, and every microsecond per request shows at thousands of requests per
second. Client mistakes (malformed JSON, an unknown shape, missing columns, wrong types, an
oversized body, a wrong method or media type) get a 4xx with an MLflow-style JSON error
``{"error_code": …, "message": …}``; the server keeps serving. Unexpected failures are logged
and answered 500 without internals. Before any route runs, :class:`~.auth.Guard` checks the
token, the origin and the Host (401/403/415, see :mod:`.auth`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from jupyter_mlops.serving.auth import (
    Guard,
    cors_headers,
    generate_token,
    unauthorized_headers,
)
from jupyter_mlops.errors import MlopsError, http_status_for
from jupyter_mlops.serving.features import take_warnings as take_feature_warnings
from jupyter_mlops.serving.inputs import (
    InputError,
    body_limits,
    jsonable,
    parse_body,
    parse_csv,
    parse_feedback,
    read_json,
    row_count,
)
from jupyter_mlops.serving.mlflow_rules import MLFLOW, STRICT, check_rules

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 16 * 1024 * 1024
#: Batches at least this big are scored in a worker thread so the event loop keeps answering.
THREAD_ROWS = 2_000
_JSON = [(b"content-type", b"application/json")]
#: MLflow's error codes for the statuses a library error maps to (errors.http_status_for).
_ERROR_CODES = {400: "INVALID_PARAMETER_VALUE", 403: "PERMISSION_DENIED",
                404: "RESOURCE_DOES_NOT_EXIST", 409: "RESOURCE_CONFLICT",
                503: "TEMPORARILY_UNAVAILABLE"}
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def _fast_checks_on_this_thread() -> None:
    """Skip scikit-learn's finiteness scan on the event loop's thread (its config is
    per-thread): the fast path has already checked the array, or the model accepts NaN."""
    try:
        import sklearn

        sklearn.set_config(assume_finite=True)
    except ImportError:  # pragma: no cover - a non-sklearn model
        pass


class ServingApp:
    """ASGI app serving a :class:`~jupyter_mlops.serving.holder.ModelHolder`.

    Parameters
    ----------
    holder : ModelHolder
    sink : PredictionSink, optional
        Where served requests are logged for monitoring.
    max_body : int
        Largest accepted request body in bytes (larger → 413).
    guard : Guard, optional
        Token, origin and Host checks (default: a random token nobody knows, so mutating
        routes are closed).
    max_depth : int, optional
        Deepest JSON nesting a body may have (default ``MLOPS_SERVE_MAX_JSON_DEPTH``, else
        64); bodies are also refused when not UTF-8, holding a lone surrogate, or an integer
        outside int64 (see :mod:`jupyter_mlops.request_body`).
    input_rules : {"strict", "mlflow"}
        ``mlflow``: short ``dataframe_split`` rows padded and ``/health`` answered as
        MLflow's scoring server does; the holder's versions convert values the same way
        (:mod:`jupyter_mlops.serving.mlflow_rules`).
    """

    def __init__(self, holder, sink=None, max_body: int = DEFAULT_MAX_BODY,
                 guard: Guard | None = None, max_depth: int | None = None,
                 input_rules: str = STRICT):
        self.holder = holder
        self.mlflow_rules = check_rules(input_rules) == MLFLOW
        self.sink = sink
        self.max_body = max_body
        self.limits = body_limits(max_body, max_depth)
        self.guard = guard if guard is not None else Guard(generate_token())
        self.started = time.time()
        self._metrics()

    # ------------------------------------------------------------------ metrics
    def _metrics(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter("mlops_serving_requests", "HTTP requests answered",
                                ["route", "status"], registry=self.registry)
        self.latency = Histogram("mlops_serving_request_seconds",
                                 "Time to answer a request", ["route"], buckets=_BUCKETS,
                                 registry=self.registry)
        self.rows = Counter("mlops_serving_predictions", "Rows scored", registry=self.registry)
        self.version_gauge = Gauge("mlops_serving_model_version", "Model version being served",
                                   registry=self.registry)
        self.version_gauge.set_function(lambda: self.holder.current.version.version)
        # Every label value below comes from a fixed set (routes, statuses, error codes).
        self.errors = Counter("mlops_serving_errors", "Requests refused or failed, by error code",
                              ["error_code"], registry=self.registry)
        self.body_bytes = Counter("mlops_serving_request_body_bytes",
                                  "Bytes of request bodies read", registry=self.registry)
        started = Gauge("mlops_serving_start_time_seconds",
                        "When the server started, in seconds since the Unix epoch",
                        registry=self.registry)
        started.set(self.started)
        self.registry.register(_CountersAtScrape(
            ("mlops_serving_model_switches",
             "Times the alias moved and the server switched version",
             lambda: self.holder.switches),
            ("mlops_serving_batched_requests",
             "Requests scored together with others that arrived at the same time, in one "
             "model call (serving/batching.py; counted per served version)",
             lambda: getattr(self.holder.current.batcher, "batched_requests", 0))))
        self._ok = self.requests.labels("invocations", "200")
        self._inv_latency = self.latency.labels("invocations")
        if self.sink is not None:
            from jupyter_mlops.monitoring.metrics import MonitorCollector

            self.registry.register(MonitorCollector(self.sink.monitor))
            # What the sink could not log, so a monitor falling behind shows on a dashboard.
            sink = self.sink
            self.registry.register(_CountersAtScrape(
                ("mlops_serving_monitor_dropped_requests",
                 "Served requests not logged to the monitor (queue full or monitor process "
                 "gone)", lambda: sink.dropped),
                ("mlops_serving_monitor_errors",
                 "Failures of the monitor's logging (see the server log)",
                 lambda: sink.errors)))

    # ------------------------------------------------------------------ ASGI
    async def __call__(self, scope, receive, send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _fast_checks_on_this_thread()
                self.holder.start()
                if self.sink is not None:
                    self.sink.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.holder.stop()
                if self.sink is not None:
                    await asyncio.get_running_loop().run_in_executor(None, self.sink.stop)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope, receive, send) -> None:
        path, method = scope["path"], scope["method"]
        t0 = time.perf_counter()
        try:
            allowed = self.guard.check(scope, path, method)
        except InputError as exc:  # refused before the body is read: nothing is recorded
            extra = unauthorized_headers(str(exc)) if exc.status == 401 else None
            status = await self._error(send, exc, extra)
            self.requests.labels(self._route_label(path), str(status)).inc()
            return
        if allowed is not None:
            if method == "OPTIONS":  # CORS preflight from an --allow-origin origin
                await send({"type": "http.response.start", "status": 204,
                            "headers": [*self.guard.preflight_headers(scope),
                                        (b"content-length", b"0")]})
                await send({"type": "http.response.body", "body": b""})
                self.requests.labels(self._route_label(path), "204").inc()
                return
            send = _with_cors(send, allowed)
        if path == "/invocations":
            if method != "POST":
                status = await self._error(send, InputError(
                    "Use POST for /invocations.", 405, "METHOD_NOT_ALLOWED"))
            else:
                status = await self._invocations(scope, receive, send)
            if status == 200:
                self._ok.inc()
                self._inv_latency.observe(time.perf_counter() - t0)
            else:
                self.requests.labels("invocations", str(status)).inc()
                self._inv_latency.observe(time.perf_counter() - t0)
            return
        routes = {"/health": self._health, "/ping": self._ping, "/version": self._version,
                  "/info": self._info, "/metrics": self._metrics_route,
                  "/feedback": self._feedback}
        handler = routes.get(path)
        if handler is None:
            status = await self._error(send, InputError(
                f"No route {path}: use POST /invocations, GET /health, /version, /info or "
                "/metrics.",
                404, "ENDPOINT_NOT_FOUND"))
            self.requests.labels("other", str(status)).inc()
            return
        wanted = "POST" if path == "/feedback" else "GET"
        if method != wanted and not (method == "HEAD" and wanted == "GET"):
            status = await self._error(send, InputError(f"Use {wanted} for {path}.", 405,
                                                        "METHOD_NOT_ALLOWED"))
        else:
            status = await handler(scope, receive, send)
        route = path.strip("/")
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(time.perf_counter() - t0)

    _ROUTES = frozenset({"/invocations", "/health", "/ping", "/version", "/info", "/metrics",
                         "/feedback"})

    def _route_label(self, path: str) -> str:
        return path.strip("/") if path in self._ROUTES else "other"

    # ------------------------------------------------------------------ routes
    async def _invocations(self, scope, receive, send) -> int:
        served = self.holder.current  # one version for the whole request
        try:
            media = self._check_media_type(scope, csv=True)
            body = await self._body(scope, receive)
            if media == b"text/csv":
                parsed = parse_csv(body, dict(zip(served.columns, served.kinds)))
            else:
                parsed = parse_body(body, self.limits, pad_short_rows=self.mlflow_rules)
            n = row_count(parsed)
            if parsed.ids is not None and len(parsed.ids) != n:
                raise InputError(f'"ids" has {len(parsed.ids)} entries for {n} rows.')
            X = served.prepare(parsed)
            if n >= THREAD_ROWS:
                preds = await asyncio.get_running_loop().run_in_executor(
                    None, served.predict, X)
            elif served.batcher is not None:
                preds = await served.batcher.score(X)
            else:
                preds = served.predict(X)
        except InputError as exc:
            return await self._error(send, exc)
        except Exception:
            log.exception("scoring failed")
            return await self._error(send, InputError(
                "The server could not score this request; see its log.", 500,
                "INTERNAL_ERROR"))
        out = jsonable(preds)
        self.rows.inc(n)
        response: dict[str, Any] = {"predictions": out}
        headers = None
        filled = take_feature_warnings()  # serve --features: rows scored with NaN-filled gaps
        if filled is not None:
            response["warnings"], extra = filled
            headers = [*_JSON, *extra]
        sink = self.sink
        if sink is not None and sink.wants():
            ids = parsed.ids
            if ids is None:
                import uuid

                base = uuid.uuid4().hex
                ids = [f"{base}-{i}" for i in range(n)] if n > 1 else [base]
            response["ids"] = ids
            sink.submit(served.version.version, X, preds, ids, served.columns)
        await self._send(send, 200, json.dumps(response).encode(), headers)
        return 200

    def _check_media_type(self, scope, csv: bool = False) -> bytes:
        """The request's media type: JSON (the default), or ``text/csv`` when ``csv``. As in
        MLflow's scoring server, a charset other than UTF-8 or any other parameter is 415."""
        for key, value in scope["headers"]:
            if key == b"content-type":
                media, *params = [p.strip().lower() for p in value.split(b";")]
                accepted = (b"application/json", b"text/json", b"text/csv") if csv else \
                    (b"application/json", b"text/json")
                if media not in accepted:
                    raise InputError(f"Send JSON (Content-Type: application/json)"
                                     f"{' or CSV (text/csv)' if csv else ''}, not "
                                     f"{media.decode('latin-1')[:100]!r}.", 415,
                                     "UNSUPPORTED_MEDIA_TYPE")
                for param in params:
                    name, _, val = param.partition(b"=")
                    if name.strip() != b"charset" or val.strip().strip(b'"') not in (
                            b"utf-8", b"utf8"):
                        raise InputError(f"Unsupported Content-Type parameter "
                                         f"{param.decode('latin-1')[:100]!r}: only "
                                         f"charset=utf-8 is accepted.", 415,
                                         "UNSUPPORTED_MEDIA_TYPE")
                return media
        return b"application/json"

    async def _body(self, scope, receive) -> bytes:
        for key, value in scope["headers"]:
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    raise InputError("Bad Content-Length header.") from None
                if declared > self.max_body:
                    raise InputError(f"The body is {declared} bytes; the limit is "
                                     f"{self.max_body}. Send fewer rows per request, or "
                                     f"{self.limits.raise_bytes}.", 413,
                                     "REQUEST_TOO_LARGE")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise InputError("The client went away.", 400)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise InputError(f"The body is larger than the {self.max_body}-byte limit. "
                                 f"Send fewer rows per request, or "
                                 f"{self.limits.raise_bytes}.", 413, "REQUEST_TOO_LARGE")
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self.body_bytes.inc(size)
        if not body:
            raise InputError("The body is empty: send a JSON object such as "
                             '{"dataframe_split": {"columns": [...], "data": [[...]]}}.')
        return body

    async def _health(self, scope, receive, send) -> int:
        if self.mlflow_rules:  # MLflow's /health is its /ping
            return await self._ping(scope, receive, send)
        served = self.holder.current
        payload = {"status": "ok", "model": served.version.name,
                   "version": served.version.version}
        if self.holder.last_error:
            payload["warning"] = self.holder.last_error
        await self._send(send, 200, json.dumps(payload).encode())
        return 200

    async def _ping(self, scope, receive, send) -> int:
        """MLflow's liveness answer: 200 and a newline."""
        await self._send(send, 200, b"\n", [(b"content-type", b"text/plain")])
        return 200

    async def _version(self, scope, receive, send) -> int:
        """The server's version as a plain string, as MLflow's ``/version`` answers."""
        from jupyter_mlops._version import __version__

        await self._send(send, 200, __version__.encode(), [(b"content-type", b"text/plain")])
        return 200

    async def _info(self, scope, receive, send) -> int:
        from jupyter_mlops._version import __version__

        served = self.holder.current
        v = served.version
        payload = {"model": v.name, "version": v.version, "ref": self.holder.ref,
                   "model_class": v.model_class, "digest": v.digest, "aliases": list(v.aliases),
                   "signature": served.signature.to_dict() if served.signature else None,
                   "fast_path": served.fast, "switches": self.holder.switches,
                   "server": f"jupyter-mlops {__version__}",
                   "uptime_s": round(time.time() - self.started, 3),
                   "monitor": self.sink.monitor.name if self.sink is not None else None}
        await self._send(send, 200, json.dumps(payload).encode())
        return 200

    async def _metrics_route(self, scope, receive, send) -> int:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        data = await asyncio.get_running_loop().run_in_executor(
            None, generate_latest, self.registry)
        await self._send(send, 200, data,
                         [(b"content-type", CONTENT_TYPE_LATEST.encode("latin-1"))])
        return 200

    async def _feedback(self, scope, receive, send) -> int:
        if self.sink is None:
            return await self._error(send, InputError(
                "This server logs to no monitor: start it with --monitor NAME.", 404,
                "NO_MONITOR"))
        try:
            self._check_media_type(scope)
            # Every id and label is checked before anything is written: a refused request
            # records nothing, and no value the store cannot hold reaches it.
            ids, labels = parse_feedback(read_json(await self._body(scope, receive),
                                                   self.limits))
            monitor = self.sink.monitor
            updated = await asyncio.get_running_loop().run_in_executor(
                None, monitor.log_feedback, ids, labels)
        except InputError as exc:
            return await self._error(send, exc)
        except MlopsError as exc:  # the monitor's own refusal, or the store being away
            status = http_status_for(exc)
            if status >= 500:
                log.error("feedback failed: %s", exc)
            return await self._error(send, InputError(
                str(exc), status, _ERROR_CODES.get(status, "INTERNAL_ERROR")))
        except Exception:
            log.exception("feedback failed")
            return await self._error(send, InputError(
                "The server could not record this feedback; see its log.", 500,
                "INTERNAL_ERROR"))
        await self._send(send, 200, json.dumps(
            {"received": len(ids),
             "windows": {str(k): v for k, v in updated.items()}}).encode())
        return 200

    # ------------------------------------------------------------------ responses
    async def _error(self, send, exc: InputError, headers=None) -> int:
        self.errors.labels(exc.code).inc()
        body = json.dumps({"error_code": exc.code, "message": str(exc)}).encode()
        await self._send(send, exc.status, body, [*_JSON, *headers] if headers else None)
        return exc.status

    @staticmethod
    async def _send(send, status: int, body: bytes, headers=None) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [*(headers or _JSON),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _CountersAtScrape:
    """Counters whose values live elsewhere (the holder's switches, the sink's drops and
    errors), read when Prometheus scrapes: ``(name, help, read)`` each."""

    def __init__(self, *counters):
        self.counters = counters

    def describe(self):
        return []

    def collect(self):
        from prometheus_client.core import CounterMetricFamily

        for name, help_text, read in self.counters:
            yield CounterMetricFamily(name, help_text, value=read())


def _with_cors(send, origin: str):
    """``send`` adding CORS headers for an allowed cross-site origin to the response."""
    extra = cors_headers(origin)

    async def wrapped(message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), *extra]}
        await send(message)

    return wrapped
