"""Quality gates for CI/CD: ``metrics.f1 >= 0.9`` checked against a pipeline run.

The grammar of one gate (``jupyter mlops check --gate …``)::

    [STEP:]KIND.KEY OP VALUE
    KIND  metrics | params | tags
    OP    >= | > | <= | < | == | !=
    VALUE a number, or a word / 'quoted text' (only == and != compare text)

The value is read from the pipeline's final step run (the last step of its dependency order)
unless the gate names a step (``train_rf:metrics.train_accuracy >= 0.9``). A gate whose key
the run lacks FAILs as ``missing``; it never raises. Drift limits (``MONITOR=0.2``) compare
the share of drifted features in the monitor's latest window; ``reproducible`` asks that no
step run is marked "not reproducible from top to bottom".

Nothing here prints: :func:`check` returns a :class:`CheckReport` the front door renders.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.pipelines.recording import TAG_PIPELINE_RUN, TAG_STEP
from jupyter_mlops.pipelines.spec import dependency_order

if TYPE_CHECKING:  # the Client's shape, for type checkers only
    from jupyter_mlops.ports import GateClient, MonitoringHolder, RunReader

KINDS = ("metrics", "params", "tags")
OPERATORS: dict[str, Any] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
    "==": operator.eq, "!=": operator.ne,
}
MAX_GATE = 1000

_GATE = re.compile(
    r"^(?:(?P<step>[^\s:<>=!]+):)?"
    r"(?P<kind>[A-Za-z_]+)\.(?P<key>[^\s<>=!]+)"
    r"\s*(?P<op>>=|<=|==|!=|>|<)\s*"
    r"(?P<value>\S.*)$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|nan)$", re.I)


@dataclasses.dataclass(frozen=True)
class Gate:
    """One parsed gate: ``step`` is None for the final step."""

    text: str
    kind: str
    key: str
    op: str
    threshold: float | str
    step: str | None = None

    @property
    def numeric(self) -> bool:
        return isinstance(self.threshold, float)


@dataclasses.dataclass(frozen=True)
class GateResult:
    """The outcome of one gate (or drift limit, or reproducibility check)."""

    name: str           # what is checked, e.g. "train:metrics.f1 >= 0.9"
    passed: bool
    value: str          # what was found: "0.93", "missing", "yes"
    threshold: str      # what was asked: ">= 0.9"
    step: str | None = None
    run_id: str | None = None

    def line(self) -> str:
        where = f" (step {self.step})" if self.step else ""
        return (f"{'PASS' if self.passed else 'FAIL'}  {self.name}  value {self.value}  "
                f"threshold {self.threshold}{where}")


@dataclasses.dataclass(frozen=True)
class CheckReport:
    """Every gate's result for one pipeline run."""

    pipeline_run_id: str | None
    run_id: str | None
    status: str
    results: list[GateResult]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failed(self) -> list[GateResult]:
        return [r for r in self.results if not r.passed]


# --------------------------------------------------------------------------- parsing
def _one_line(text: str, limit: int = 80) -> str:
    shown = repr(text[:limit] + ("…" if len(text) > limit else ""))
    return shown


def parse_gate(text: Any) -> Gate:
    """Parse ``[STEP:]KIND.KEY OP VALUE``.

    Raises
    ------
    InvalidInputError
        One line naming the gate and the expected form.
    """
    if not isinstance(text, str):
        raise InvalidInputError(f"A gate is text like 'metrics.f1 >= 0.9', not {type(text).__name__}.")
    form = "expected [STEP:]metrics|params|tags.KEY OP VALUE with OP one of >= > <= < == !=, " \
           "e.g. 'metrics.f1 >= 0.9'"
    if len(text) > MAX_GATE or not text.isprintable():
        raise InvalidInputError(f"Gate {_one_line(text)} is not valid: at most {MAX_GATE} "
                                f"printable characters on one line ({form}).")
    m = _GATE.match(text.strip())
    if m is None:
        raise InvalidInputError(f"Gate {_one_line(text)} is not valid: {form}.")
    kind = m["kind"]
    if kind not in KINDS:
        singular = {k[:-1]: k for k in KINDS}.get(kind)
        hint = f" (did you mean {singular}?)" if singular else ""
        raise InvalidInputError(f"Gate {_one_line(text)} reads {kind!r}: the kind is one of "
                                f"{', '.join(KINDS)}{hint}.")
    raw = m["value"].strip()
    if raw[0] in "<>=!":
        raise InvalidInputError(f"Gate {_one_line(text)} is not valid: {form}.")
    threshold: float | str
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        threshold = raw[1:-1]
    elif _NUMBER.match(raw):
        threshold = float(raw)
        if math.isnan(threshold):
            raise InvalidInputError(f"Gate {_one_line(text)}: nan is never equal to anything; "
                                    "give a number.")
    elif any(c.isspace() for c in raw):
        raise InvalidInputError(f"Gate {_one_line(text)}: the value {raw!r} has spaces; quote "
                                "it ('like this') or give a number.")
    else:
        threshold = raw
    op = m["op"]
    if isinstance(threshold, str):
        if kind == "metrics":
            raise InvalidInputError(f"Gate {_one_line(text)}: a metric is a number; give a "
                                    f"number, not {threshold!r}.")
        if op not in ("==", "!="):
            raise InvalidInputError(f"Gate {_one_line(text)}: {op} needs a number; text "
                                    "compares only with == or !=.")
    return Gate(text=text.strip(), kind=kind, key=m["key"], op=op, threshold=threshold,
                step=m["step"])


def parse_max_drift(text: Any) -> tuple[str, float]:
    """Parse ``MONITOR=SHARE`` (SHARE between 0 and 1) for ``--max-drift``."""
    if not isinstance(text, str):
        raise InvalidInputError("--max-drift takes MONITOR=SHARE, e.g. 'churn=0.2'.")
    name, sep, raw = text.rpartition("=")
    name, raw = name.strip(), raw.strip()
    if not sep or not name or not name.isprintable() or not _NUMBER.match(raw):
        raise InvalidInputError(f"--max-drift {_one_line(text)} is not valid: expected "
                                "MONITOR=SHARE, e.g. 'churn=0.2'.")
    share = float(raw)
    if not 0.0 <= share <= 1.0:
        raise InvalidInputError(f"--max-drift {_one_line(text)}: the share of drifted features "
                                "is between 0 and 1.")
    return name, share


# --------------------------------------------------------------------------- evaluating
def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value) if isinstance(value, str) else str(value)


def _threshold_text(gate: Gate) -> str:
    return f"{gate.op} {_fmt(gate.threshold)}"


def evaluate(gate: Gate, values: Mapping[str, Mapping[str, Any]] | None, *,
             step: str | None = None, run_id: str | None = None) -> GateResult:
    """Check ``gate`` against one run's ``{"metrics": …, "params": …, "tags": …}``.

    ``values`` None means the step has no run: the gate FAILs as missing.
    """
    found = None if values is None else (values.get(gate.kind) or {}).get(gate.key)
    base = dict(name=gate.text, threshold=_threshold_text(gate), step=step, run_id=run_id)
    if found is None:
        return GateResult(passed=False, value="missing", **base)
    compare = OPERATORS[gate.op]
    if gate.numeric:
        try:
            number = float(found)
        except (TypeError, ValueError):
            return GateResult(passed=False, value=f"{_fmt(found)} (not a number)", **base)
        return GateResult(passed=bool(compare(number, gate.threshold)), value=_fmt(number),
                          **base)
    return GateResult(passed=bool(compare(str(found), gate.threshold)), value=_fmt(str(found)),
                      **base)


def final_step(spec: Mapping[str, Any], step_names: Iterable[str]) -> str | None:
    """The last step of the pipeline's dependency order (ties broken by name, as
    :meth:`Pipeline.order` does); falls back to the last recorded step."""
    names = list(step_names)
    deps = {s["name"]: set(s.get("depends_on") or ()) for s in spec.get("steps") or ()
            if isinstance(s, Mapping) and "name" in s}
    if not deps:
        return names[-1] if names else None
    done, _ = dependency_order(deps)
    return done[-1] if done else (names[-1] if names else None)


def _values_of(client: RunReader, run_id: str | None) -> tuple[dict | None, Any]:
    if not run_id:
        return None, None
    detail = client.get_run(run_id)
    run = detail.run
    return {"metrics": run.metrics, "params": run.params, "tags": run.tags}, run


def _drift(client: MonitoringHolder, monitor: str, limit: float) -> GateResult:
    name = f"drift {monitor}"
    threshold = f"<= {limit:.6g} (share of features drifted, latest window)"
    from jupyter_mlops.errors import NotFoundError

    try:
        windows = client.monitoring.get(monitor).windows(1)
    except NotFoundError:
        return GateResult(name=name, passed=False, value="missing (no such monitor)",
                          threshold=threshold)
    if not windows:
        return GateResult(name=name, passed=False, value="missing (no window logged)",
                          threshold=threshold)
    w = windows[-1]
    share = w.columns_drifted / w.columns_checked if w.columns_checked else 0.0
    return GateResult(name=name, passed=share <= limit,
                      value=f"{share:.6g} ({w.columns_drifted}/{w.columns_checked}, "
                            f"window {w.seq})", threshold=threshold)


def _reproducible(step: str, run: Any) -> GateResult:
    base = dict(name=f"reproducible {step}", threshold="not marked not reproducible",
                step=step)
    if run is None:
        return GateResult(passed=False, value="missing (no run)", **base)
    base["run_id"] = run.id
    if run.reproducible is False:
        return GateResult(passed=False, value=f"no: {run.not_reproducible_reason}", **base)
    if run.reproducible:
        return GateResult(passed=True, value="yes", **base)
    if TAG_STEP in run.tags:  # papermill ran it top to bottom, in order, once
        return GateResult(passed=True, value="yes (pipeline step, run top to bottom)", **base)
    return GateResult(passed=False, value="not checked", **base)


def check(client: GateClient, pipeline_run: Any, gates: Iterable[Gate], *,
          max_drift: Mapping[str, float] | None = None,
          reproducible: bool = False) -> CheckReport:
    """Evaluate ``gates`` (and the drift limits and reproducibility, if asked) on
    ``pipeline_run`` (a :class:`PipelineRunRecord` with its steps)."""
    steps = {s.step: s for s in pipeline_run.steps}
    try:
        spec = client.pipelines.get(pipeline_run.pipeline).spec
    except Exception:  # a pipeline record is optional: fall back to the recorded order
        spec = {}
    last = final_step(spec, steps)
    cache: dict[str, tuple[dict | None, Any]] = {}

    def step_values(name: str) -> tuple[dict | None, Any]:
        if name not in cache:
            rec = steps.get(name)
            cache[name] = _values_of(client, rec.run_id if rec else None)
        return cache[name]

    results = []
    for gate in gates:
        name = gate.step or last
        values, run = step_values(name) if name else (None, None)
        results.append(evaluate(gate, values, step=name, run_id=run.id if run else None))
    for monitor, limit in (max_drift or {}).items():
        results.append(_drift(client, monitor, limit))
    if reproducible:
        for name in steps:
            results.append(_reproducible(name, step_values(name)[1]))
    return CheckReport(pipeline_run_id=pipeline_run.id, run_id=pipeline_run.run_id,
                       status=pipeline_run.status, results=results)


def check_single_run(client: GateClient, run_id: str, gates: Iterable[Gate], *,
                     max_drift: Mapping[str, float] | None = None,
                     reproducible: bool = False) -> CheckReport:
    """Gates on one tracked run that is no pipeline step (a gate naming a step FAILs as
    missing)."""
    values, run = _values_of(client, run_id)
    results = []
    for gate in gates:
        if gate.step:
            results.append(GateResult(name=gate.text, passed=False,
                                      value="missing (the run is not a pipeline run)",
                                      threshold=_threshold_text(gate), step=gate.step))
        else:
            results.append(evaluate(gate, values, run_id=run.id))
    for monitor, limit in (max_drift or {}).items():
        results.append(_drift(client, monitor, limit))
    if reproducible:
        results.append(_reproducible(run.name, run))
    return CheckReport(pipeline_run_id=None, run_id=run.id, status=run.status, results=results)


def check_recorded(client: GateClient, run: str, gates: Iterable[Gate],
                   **options: Any) -> CheckReport:
    """Gates on a finished run named by ``--run``: a pipeline run id (or prefix), a step's
    tracked run (its pipeline run is checked) or any other tracked run."""
    from jupyter_mlops.errors import NotFoundError

    gates = list(gates)
    try:
        record = client.pipelines.get_run(run)
    except NotFoundError:
        record = None
    if record is None:
        run_id = client.resolve_run_id(run)
        prid = client.get_run(run_id).run.tags.get(TAG_PIPELINE_RUN)
        if prid:
            record = client.pipelines.get_run(prid)
        else:
            return check_single_run(client, run_id, gates, **options)
    return check(client, record, gates, **options)


# --------------------------------------------------------------------------- JUnit
def junit_xml(report: CheckReport, suite: str = "jupyter-mlops check") -> bytes:
    """The report as JUnit XML: one ``<testcase>`` per gate, a ``<failure>`` for each FAIL."""
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites")
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(report.results)),
                       failures=str(len(report.failed)), errors="0", skipped="0")
    props = ET.SubElement(ts, "properties")
    for key, value in (("pipeline_run", report.pipeline_run_id), ("run", report.run_id),
                       ("status", report.status)):
        if value:
            ET.SubElement(props, "property", name=key, value=_xml_text(value))
    for r in report.results:
        case = ET.SubElement(ts, "testcase", name=_xml_text(r.name),
                             classname=_xml_text(f"mlops.gates.{r.step or 'run'}"))
        out = ET.SubElement(case, "system-out")
        out.text = _xml_text(r.line())
        if not r.passed:
            fail = ET.SubElement(case, "failure", message=_xml_text(
                f"{r.name}: value {r.value}, threshold {r.threshold}"), type="GateFailed")
            fail.text = _xml_text(r.line())
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _xml_text(text: Any) -> str:
    """XML 1.0 cannot carry most control characters even escaped: replace them."""
    return "".join(c if c in "\t\n\r" or (ord(c) >= 0x20 and not 0xD800 <= ord(c) <= 0xDFFF
                                          and c not in "\ufffe\uffff") else "\ufffd"
                   for c in str(text))
