"""What a pipeline is: steps (notebooks), their parameters, dependencies, inputs and outputs.

A pipeline comes from a ``pipeline.yaml`` (:meth:`Pipeline.load`) or from Python
(``Pipeline("name", steps=[Step(...), ...])``); both end as the same frozen objects.
:meth:`Pipeline.validate` reports every problem at once, each naming its step and field:
an unknown notebook, a cycle, a dependency on a missing step, an input made by a step that
is not upstream, a parameter the notebook does not declare or of the wrong type.

``${name}`` in a step's parameters, inputs or outputs stands for the pipeline parameter
``name``: a value that is exactly ``${name}`` takes the parameter's value and type; inside
a longer string it is interpolated as text.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jupyter_mlops.errors import InvalidInputError, NotFoundError

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_STEP_KEYS = {"name", "notebook", "parameters", "depends_on", "inputs", "outputs", "retries",
              "retry_delay", "timeout", "kernel", "cache"}
_TOP_KEYS = {"name", "experiment", "parameters", "steps"}


@dataclasses.dataclass(frozen=True)
class Input:
    """A file or folder a step reads (``path``), or a registered dataset (``dataset``)."""

    path: str | None = None
    dataset: str | None = None
    version: int | None = None


@dataclasses.dataclass(frozen=True)
class Output:
    """A file or folder a step writes; stored as an artifact (and a dataset when named)."""

    name: str
    path: str
    dataset: str | None = None


@dataclasses.dataclass(frozen=True)
class Step:
    """One notebook run of a pipeline.

    Parameters
    ----------
    name : str
        Unique within the pipeline (letters, digits, ``_ . -``).
    notebook : str
        Path of the notebook, relative to the pipeline's folder.
    parameters : mapping, optional
        Injected by papermill after the notebook's ``parameters`` cell.
    depends_on : sequence of str, optional
        Steps that must succeed first.
    inputs, outputs : optional
        Paths (or ``Input``/``Output``); outputs may be a mapping ``name -> path``.
    retries : int
        Extra attempts after a failure (default 0).
    retry_delay : float
        Seconds between attempts.
    timeout : float, optional
        Wall-clock limit for one attempt; the kernel is stopped when it passes.
    kernel : str, optional
        Kernel name (default: the notebook's kernelspec; a notebook without one is
        refused, as papermill refuses it).
    cache : bool
        Whether a matching earlier success may stand in for running the step.
    """

    name: str
    notebook: str
    parameters: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    depends_on: Sequence[str] = ()
    inputs: Sequence[Input | str] = ()
    outputs: Sequence[Output | str] | Mapping[str, str] = ()
    retries: int = 0
    retry_delay: float = 0.0
    timeout: float | None = None
    kernel: str | None = None
    cache: bool = True

    def __post_init__(self):
        set_ = object.__setattr__  # normalise the convenient forms once, while frozen
        set_(self, "parameters", dict(self.parameters or {}))
        set_(self, "depends_on", tuple(self.depends_on or ()))
        set_(self, "inputs", tuple(i if isinstance(i, Input) else Input(path=str(i))
                                   for i in (self.inputs or ())))
        outs = self.outputs or ()
        if isinstance(outs, Mapping):
            outs = [Output(k, v) if isinstance(v, str) else Output(k, **v) for k, v in
                    outs.items()]
        set_(self, "outputs", tuple(o if isinstance(o, Output) else Output(str(o), str(o))
                                    for o in outs))


@dataclasses.dataclass(frozen=True)
class Pipeline:
    """A DAG of notebook steps.

    Parameters
    ----------
    name : str
        Pipeline name (its runs are grouped under it in the store).
    steps : sequence of Step
        In any order; dependencies decide the execution order.
    parameters : mapping, optional
        Pipeline parameters and their defaults (the default's type is the declared type).
    experiment : str, optional
        Experiment for the pipeline's runs (default: the pipeline name).
    base_dir : str or Path, optional
        Folder that relative paths are resolved against and steps run in (default: cwd).
    path : str, optional
        The ``pipeline.yaml`` this came from.
    """

    name: str
    steps: Sequence[Step]
    parameters: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    experiment: str | None = None
    base_dir: Path | str | None = None
    path: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "steps", tuple(self.steps))
        object.__setattr__(self, "parameters", dict(self.parameters or {}))
        object.__setattr__(self, "base_dir", Path(self.base_dir or Path.cwd()).resolve())

    # ----------------------------------------------------------------- construction
    @classmethod
    def load(cls, path: str | Path) -> Pipeline:
        """Read a ``pipeline.yaml``; relative paths in it are relative to its folder.

        Raises
        ------
        NotFoundError
            No file at ``path``.
        InvalidInputError
            The file is not valid YAML or not a pipeline (the message says where).
        """
        import yaml

        p = Path(path).expanduser()
        if not p.is_file():
            raise NotFoundError(f"No pipeline file at {str(path)!r}: check the path.")
        try:
            data = yaml.safe_load(p.read_text())
        except yaml.YAMLError as exc:
            raise InvalidInputError(f"{p}: not valid YAML: {exc}") from None
        return cls.from_dict(data, base_dir=p.parent, path=str(p.resolve()))

    @classmethod
    def from_dict(cls, data: Any, base_dir: str | Path | None = None,
                  path: str | None = None) -> Pipeline:
        """Build from the parsed YAML structure (``steps`` as a mapping or a list)."""
        where = path or "pipeline"
        if not isinstance(data, Mapping):
            raise InvalidInputError(f"{where}: a pipeline is a mapping with 'name' and 'steps'.")
        unknown = set(data) - _TOP_KEYS
        if unknown:
            raise InvalidInputError(f"{where}: unknown top-level field(s) {sorted(unknown)}; "
                                    f"allowed: {sorted(_TOP_KEYS)}.")
        raw_steps = data.get("steps")
        if isinstance(raw_steps, Mapping):
            raw_steps = [{"name": k, **(v or {})} for k, v in raw_steps.items()]
        if not isinstance(raw_steps, list) or not raw_steps:
            raise InvalidInputError(f"{where}: 'steps' must list at least one step.")
        steps = []
        for i, raw in enumerate(raw_steps):
            if not isinstance(raw, Mapping):
                raise InvalidInputError(f"{where}: step #{i + 1} must be a mapping.")
            label = raw.get("name") or f"#{i + 1}"
            bad = set(raw) - _STEP_KEYS
            if bad:
                raise InvalidInputError(f"{where}: step {label!r}: unknown field(s) "
                                        f"{sorted(bad)}; allowed: {sorted(_STEP_KEYS)}.")
            for key in ("name", "notebook"):
                if not isinstance(raw.get(key), str):
                    raise InvalidInputError(
                        f"{where}: step {label!r}: field {key!r} is required (a string).")
            try:
                steps.append(Step(
                    name=raw["name"], notebook=raw["notebook"],
                    parameters=raw.get("parameters") or {},
                    depends_on=_as_list(raw.get("depends_on")),
                    inputs=[_input(x) for x in _as_list(raw.get("inputs"))],
                    outputs=_outputs(raw.get("outputs")),
                    retries=raw.get("retries", 0), retry_delay=raw.get("retry_delay", 0.0),
                    timeout=raw.get("timeout"), kernel=raw.get("kernel"),
                    cache=raw.get("cache", True)))
            except (TypeError, ValueError) as exc:
                raise InvalidInputError(f"{where}: step {label!r}: {exc}") from None
        name = data.get("name") or (Path(path).parent.name if path else None)
        if not isinstance(name, str) or not name:
            raise InvalidInputError(f"{where}: field 'name' is required.")
        return cls(name=name, steps=steps, parameters=data.get("parameters") or {},
                   experiment=data.get("experiment"), base_dir=base_dir, path=path)

    def to_dict(self) -> dict:
        """The JSON-able spec stored with each pipeline (and hashed into its digest)."""
        return {
            "name": self.name, "experiment": self.experiment,
            "parameters": dict(self.parameters),
            "steps": [{
                "name": s.name, "notebook": s.notebook, "parameters": dict(s.parameters),
                "depends_on": list(s.depends_on),
                "inputs": [dataclasses.asdict(i) for i in s.inputs],
                "outputs": [dataclasses.asdict(o) for o in s.outputs],
                "retries": s.retries, "retry_delay": s.retry_delay, "timeout": s.timeout,
                "kernel": s.kernel, "cache": s.cache} for s in self.steps],
        }

    def digest(self) -> str:
        from jupyter_mlops.hashing import hash_bytes

        return hash_bytes(json.dumps(self.to_dict(), sort_keys=True, default=str).encode())

    # ----------------------------------------------------------------- queries
    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise NotFoundError(f"Pipeline {self.name!r} has no step {name!r}; steps: "
                            f"{', '.join(s.name for s in self.steps)}.")

    def resolve_path(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def order(self) -> list[str]:
        """Step names in a dependency-respecting order (raises on a cycle)."""
        deps = {s.name: set(s.depends_on) for s in self.steps}
        done, remaining = dependency_order(deps)
        if remaining:
            raise InvalidInputError(
                f"Pipeline {self.name!r}: step {_cycle(deps)[0]!r}: field 'depends_on': "
                f"dependency cycle {' -> '.join(_cycle(deps))}.")
        return done

    def ancestors(self, name: str) -> set[str]:
        deps = {s.name: s.depends_on for s in self.steps}
        seen: set[str] = set()
        stack = list(deps.get(name, ()))
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.extend(deps.get(n, ()))
        return seen

    def descendants(self, name: str) -> set[str]:
        return {s.name for s in self.steps if name in self.ancestors(s.name)}

    # ----------------------------------------------------------------- parameters
    def with_parameters(self, overrides: Mapping[str, Any] | None = None) -> Pipeline:
        """Apply ``overrides`` to the pipeline parameters and substitute ``${name}``.

        Values given as strings (from ``-p key=value``) are parsed like YAML scalars, then
        checked against the declared default's type.

        Raises
        ------
        InvalidInputError
            An unknown parameter, a value of the wrong type, or a ``${name}`` that names no
            pipeline parameter.
        """
        values = dict(self.parameters)
        for key, raw in (overrides or {}).items():
            if key not in self.parameters:
                declared = ", ".join(sorted(self.parameters)) or "none"
                raise InvalidInputError(
                    f"Pipeline {self.name!r} has no parameter {key!r} (declared: {declared}); "
                    "declare it under 'parameters:' in the pipeline file.")
            value = parse_scalar(raw) if isinstance(raw, str) else raw
            problem = type_problem(self.parameters[key], value)
            if problem:
                raise InvalidInputError(f"Pipeline {self.name!r}: parameter {key!r}: {problem}.")
            values[key] = value
        steps = []
        for s in self.steps:
            sub = _Substituter(values, self.name, s.name)
            steps.append(dataclasses.replace(
                s,
                parameters={k: sub(v, f"parameters.{k}") for k, v in s.parameters.items()},
                inputs=[dataclasses.replace(i, path=sub(i.path, "inputs"))
                        if i.path else i for i in s.inputs],
                outputs=[dataclasses.replace(o, path=sub(o.path, "outputs"))
                         for o in s.outputs]))
        return dataclasses.replace(self, steps=steps, parameters=values,
                                   base_dir=self.base_dir)

    # ----------------------------------------------------------------- validation
    def validate(self, check_files: bool = True) -> Pipeline:
        """Check the whole pipeline; raise one error listing every problem.

        Returns ``self`` so ``Pipeline.load(p).validate()`` reads naturally.

        Raises
        ------
        InvalidInputError
            Each problem on its own line as ``step 'X': field 'Y': what is wrong``.
        """
        problems: list[str] = []
        names = [s.name for s in self.steps]
        seen: set[str] = set()
        for s in self.steps:
            if not _NAME.match(s.name):
                problems.append(f"step {s.name!r}: field 'name': use letters, digits, _ . - "
                                "(at most 128)")
            if s.name in seen:
                problems.append(f"step {s.name!r}: field 'name': two steps share this name")
            seen.add(s.name)
        for s in self.steps:
            problems.extend(self._step_problems(s, set(names), check_files))
        if not any("depends_on" in p for p in problems):
            try:
                self.order()
            except InvalidInputError as exc:
                problems.append(str(exc).split(": ", 1)[1])
        problems.extend(self._io_problems())
        if problems:
            where = self.path or self.name
            raise InvalidInputError(f"{where}: {len(problems)} problem(s):\n  "
                                    + "\n  ".join(problems))
        return self

    def _step_problems(self, s: Step, names: set[str], check_files: bool) -> list[str]:
        out: list[str] = []
        label = f"step {s.name!r}"
        for d in s.depends_on:
            if d not in names:
                out.append(f"{label}: field 'depends_on': no step named {d!r} "
                           f"(steps: {', '.join(sorted(names))})")
            if d == s.name:
                out.append(f"{label}: field 'depends_on': a step cannot depend on itself")
        if not isinstance(s.retries, int) or isinstance(s.retries, bool) or s.retries < 0:
            out.append(f"{label}: field 'retries': must be a whole number ≥ 0, not {s.retries!r}")
        if s.timeout is not None and (isinstance(s.timeout, bool) or not isinstance(
                s.timeout, (int, float)) or s.timeout <= 0):
            out.append(f"{label}: field 'timeout': must be a number of seconds > 0, "
                       f"not {s.timeout!r}")
        if not isinstance(s.retry_delay, (int, float)) or s.retry_delay < 0:
            out.append(f"{label}: field 'retry_delay': must be seconds ≥ 0")
        for k, v in s.parameters.items():
            if not isinstance(k, str) or not k.isidentifier():
                out.append(f"{label}: field 'parameters': {k!r} is not a Python identifier")
            elif isinstance(v, str) and _REF.search(v):
                missing = [m for m in _REF.findall(v) if m not in self.parameters]
                if missing:
                    out.append(f"{label}: field 'parameters.{k}': ${{{missing[0]}}} names no "
                               "pipeline parameter")
        nb_path = self.resolve_path(s.notebook)
        if not s.notebook.endswith(".ipynb"):
            out.append(f"{label}: field 'notebook': {s.notebook!r} is not a .ipynb file")
        elif check_files and not nb_path.is_file():
            out.append(f"{label}: field 'notebook': no notebook at {str(nb_path)!r}")
        elif check_files:
            out.extend(self._parameter_problems(s, nb_path))
        return out

    def _parameter_problems(self, s: Step, nb_path: Path) -> list[str]:
        try:
            declared = notebook_parameters(nb_path)
        except InvalidInputError as exc:
            return [f"step {s.name!r}: field 'notebook': {exc}"]
        if declared is None:
            return []  # no parameters cell: papermill injects at the top; nothing to check
        out = []
        for k, v in s.parameters.items():
            if isinstance(v, str) and _REF.fullmatch(v):
                ref = _REF.fullmatch(v).group(1)
                if ref not in self.parameters:
                    continue
                v = self.parameters[ref]
            if k not in declared:
                out.append(f"step {s.name!r}: field 'parameters.{k}': the notebook's "
                           f"parameters cell does not define {k!r} (it defines: "
                           f"{', '.join(sorted(declared)) or 'nothing'})")
                continue
            problem = type_problem(declared[k], v)
            if problem:
                out.append(f"step {s.name!r}: field 'parameters.{k}': {problem} "
                           "(the notebook's default)")
        return out

    def _io_problems(self) -> list[str]:
        out: list[str] = []
        producers: dict[Path, str] = {}
        for s in self.steps:
            for o in s.outputs:
                p = self.resolve_path(o.path)
                if p in producers:
                    out.append(f"step {s.name!r}: field 'outputs': {o.path!r} is also an "
                               f"output of step {producers[p]!r}")
                producers[p] = s.name
        for s in self.steps:
            ups = self.ancestors(s.name) if all(d in {x.name for x in self.steps}
                                                for d in s.depends_on) else set()
            for i in s.inputs:
                if i.path is None:
                    if not i.dataset:
                        out.append(f"step {s.name!r}: field 'inputs': give a path or a dataset")
                    continue
                p = self.resolve_path(i.path)
                maker = next((producers[q] for q in producers if p == q or q in p.parents
                              or p in q.parents), None)
                if maker is not None and maker != s.name and maker not in ups:
                    out.append(f"step {s.name!r}: field 'inputs': {i.path!r} is made by step "
                               f"{maker!r}, which {s.name!r} does not depend on: add "
                               f"{maker!r} to depends_on")
        return out


# --------------------------------------------------------------------------- notebook parameters
def notebook_parameters(path: str | Path) -> dict[str, Any] | None:
    """Defaults of the notebook's cell tagged ``parameters`` (None if it has no such cell).

    Values that are not literals (``n = len(x)``) are reported as ``...`` (any type accepted).
    """
    try:
        nb = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot read notebook {str(path)!r}: {exc}") from None
    for cell in nb.get("cells", []):
        tags = (cell.get("metadata") or {}).get("tags") or []
        if cell.get("cell_type") == "code" and "parameters" in tags:
            src = cell.get("source", "")
            return parameters_of_source("".join(src) if isinstance(src, list) else src)
    return None


def parameters_of_source(source: str) -> dict[str, Any]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    out: dict[str, Any] = {}
    for node in tree.body:
        targets: list[ast.expr] = []
        value = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        for t in targets:
            if isinstance(t, ast.Name):
                try:
                    out[t.id] = ast.literal_eval(value)
                except (ValueError, SyntaxError, TypeError):
                    out[t.id] = ...
    return out


def type_problem(default: Any, value: Any) -> str | None:
    """Why ``value`` cannot stand in for a parameter whose default is ``default`` (or None)."""
    if default is ... or default is None or value is None:
        return None
    if isinstance(default, bool) or isinstance(value, bool):
        ok = isinstance(default, bool) and isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float))
    elif isinstance(default, int):
        ok = isinstance(value, int)
    elif isinstance(default, (list, tuple)):
        ok = isinstance(value, (list, tuple))
    else:
        ok = isinstance(value, type(default))
    if ok:
        return None
    return (f"expected {type(default).__name__} like {default!r}, got "
            f"{type(value).__name__} {value!r}")


def parse_scalar(text: str) -> Any:
    """``-p key=value`` values: YAML scalars (``3`` → int, ``0.5`` → float, ``true`` → bool)."""
    import yaml

    try:
        return yaml.safe_load(text) if text.strip() else text
    except yaml.YAMLError:
        return text


# --------------------------------------------------------------------------- helpers
class _Substituter:
    def __init__(self, values: Mapping[str, Any], pipeline: str, step: str):
        self.values, self.pipeline, self.step = values, pipeline, step

    def __call__(self, value: Any, field: str) -> Any:
        if not isinstance(value, str) or "${" not in value:
            return value
        whole = _REF.fullmatch(value)
        if whole:
            return self._get(whole.group(1), field)
        return _REF.sub(lambda m: str(self._get(m.group(1), field)), value)

    def _get(self, name: str, field: str) -> Any:
        if name not in self.values:
            raise InvalidInputError(f"Pipeline {self.pipeline!r}: step {self.step!r}: field "
                                    f"{field!r}: ${{{name}}} names no pipeline parameter.")
        return self.values[name]


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _input(raw: Any) -> Input:
    if isinstance(raw, str):
        return Input(path=raw)
    if isinstance(raw, Mapping):
        bad = set(raw) - {"path", "dataset", "version"}
        if bad:
            raise ValueError(f"field 'inputs': unknown key(s) {sorted(bad)}")
        return Input(path=raw.get("path"), dataset=raw.get("dataset"),
                     version=raw.get("version"))
    raise ValueError(f"field 'inputs': {raw!r} is neither a path nor a mapping")


def _outputs(raw: Any) -> list[Output]:
    if raw is None:
        return []
    if isinstance(raw, Mapping):
        out = []
        for k, v in raw.items():
            if isinstance(v, str):
                out.append(Output(str(k), v))
            elif isinstance(v, Mapping) and isinstance(v.get("path"), str):
                out.append(Output(str(k), v["path"], v.get("dataset")))
            else:
                raise ValueError(f"field 'outputs.{k}': give a path or {{path:, dataset:}}")
        return out
    return [Output(str(x), str(x)) if isinstance(x, str) else Output(**x) for x in _as_list(raw)]


def dependency_order(deps: Mapping[str, set[str]]) -> tuple[list[str], dict[str, set[str]]]:
    """Kahn's order of ``{step: its dependencies}``: the steps with none first, by name, then
    each step as its last dependency is placed (the same order on every machine); returns the
    order and what a cycle left unordered."""
    done: list[str] = []
    ready = sorted(n for n, d in deps.items() if not d)
    remaining = {n: set(d) for n, d in deps.items() if d}
    while ready:
        n = ready.pop(0)
        done.append(n)
        for m in sorted(remaining):
            remaining[m].discard(n)
            if not remaining[m]:
                del remaining[m]
                ready.append(m)
    return done, remaining


def _cycle(deps: dict[str, set[str]]) -> list[str]:
    """One dependency cycle, as a path that starts and ends on the same step."""
    color: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        color[n] = 1
        stack.append(n)
        for m in sorted(deps.get(n, ())):
            if color.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m in deps and not color.get(m):
                found = visit(m)
                if found:
                    return found
        stack.pop()
        color[n] = 2
        return None

    for n in sorted(deps):
        if not color.get(n):
            found = visit(n)
            if found:
                return found
    return []
