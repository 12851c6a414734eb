"""The Client satisfies every protocol components type their ``client`` with (issue 13).

Components may not import the Client, so they name what they need of it with the small
protocols of :mod:`jupyter_mlops.ports`. Nothing checks a protocol at run time, so a renamed
or reshaped Client method would only fail deep inside a component. Here, for every protocol,
the class that stands behind it (the Client, or the facet it hands out) has each member with
parameters a caller of the protocol can use: same names, kinds that accept the same calls,
defaults where the protocol has them. ``tests/typing/client_conforms.py`` is the same proof
by mypy (types too); :func:`test_mypy_accepts_the_client_for_every_port` runs it.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import json
import subprocess
import sys
import textwrap
import typing
from pathlib import Path

import pytest

from jupyter_mlops import ports
from jupyter_mlops.client import Client
from jupyter_mlops.client.monitoring import MonitoringClient
from jupyter_mlops.client.pipelines import PipelinesClient
from jupyter_mlops.client.stores import ComponentStores
from jupyter_mlops.monitoring.monitor import Monitor
from jupyter_mlops.registry.api import RegistryClient
from jupyter_mlops.registry.loaded import LoadedModel

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "jupyter_mlops"

#: The facet protocols and the class the Client hands out for each; every other port is the
#: Client's own.
FACETS: dict[type, type] = {
    ports.ComponentStoreSet: ComponentStores,
    ports.ModelResolver: RegistryClient,
    ports.Predictor: LoadedModel,
    ports.PipelineReader: PipelinesClient,
    ports.MonitorLookup: MonitoringClient,
    ports.MonitorWindows: Monitor,
}

#: Where components take a ``client`` (docs/architecture.md's component layers).
COMPONENTS = ("pipelines", "registry", "monitoring", "sweeps", "feature_store", "notify",
              "tracking")

POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
KEYWORD = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def protocols() -> list[type]:
    return [v for v in vars(ports).values()
            if isinstance(v, type) and v.__module__ == ports.__name__
            and getattr(v, "_is_protocol", False)]


def members(proto: type) -> dict[str, object]:
    """Name -> the protocol's declaration (function or property), inherited ones included."""
    found: dict[str, object] = {}
    for cls in reversed(proto.__mro__):
        if cls in (object, typing.Protocol, typing.Generic):
            continue
        for name, value in vars(cls).items():
            if not name.startswith("_") and isinstance(value, (property, type(members))):
                found[name] = value
    return found


def signature_problems(name: str, proto_fn, impl_fn) -> list[str]:
    """Why a call that is valid on the protocol's method could fail on the implementation."""
    want = list(inspect.signature(proto_fn).parameters.values())[1:]  # without self
    have = list(inspect.signature(impl_fn).parameters.values())
    if have and have[0].name == "self":
        have = have[1:]
    by_name = {p.name: p for p in have}
    var_pos = any(p.kind is p.VAR_POSITIONAL for p in have)
    var_kw = any(p.kind is p.VAR_KEYWORD for p in have)
    problems = []
    have_pos = [p for p in have if p.kind in POSITIONAL]
    for i, p in enumerate(q for q in want if q.kind in POSITIONAL):
        if i < len(have_pos):
            if have_pos[i].name != p.name:
                problems.append(f"{name}: positional parameter {i + 1} is {have_pos[i].name!r},"
                                f" the protocol's is {p.name!r}")
        elif not var_pos:
            problems.append(f"{name}: no positional parameter {p.name!r}")
    for p in want:
        if p.kind is p.VAR_POSITIONAL and not var_pos:
            problems.append(f"{name}: takes no *{p.name}")
        elif p.kind is p.VAR_KEYWORD and not var_kw:
            problems.append(f"{name}: takes no **{p.name}")
        elif p.kind in KEYWORD:
            got = by_name.get(p.name)
            if got is None or got.kind not in KEYWORD:
                if not var_kw:
                    problems.append(f"{name}: no keyword parameter {p.name!r}")
            elif p.default is not p.empty and got.default is got.empty:
                problems.append(f"{name}: {p.name!r} has a default in the protocol only")
    wanted = {p.name for p in want}
    for p in have:
        if (p.name not in wanted and p.default is p.empty
                and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)):
            problems.append(f"{name}: requires {p.name!r}, which the protocol does not pass")
    return problems


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """A real Client: the members it sets in ``__init__`` (store, stores, location) exist
    only on an instance."""
    root = tmp_path_factory.mktemp("ports")
    c = Client(f"sqlite:///{root / 'mlops.db'}", str(root / "artifacts"), start=root)
    yield c
    c.close()


def conformance_problems(proto: type, impl: type, instance: object | None) -> list[str]:
    problems = []
    for name, decl in members(proto).items():
        try:
            found = inspect.getattr_static(impl, name)
        except AttributeError:
            found = None
        if isinstance(decl, property):
            if found is None and not (instance is not None and name in vars(instance)):
                problems.append(f"{name}: missing (the protocol reads it as an attribute)")
            elif found is not None and inspect.isfunction(found):
                problems.append(f"{name}: a method, the protocol reads an attribute")
        elif found is None or not callable(found):
            problems.append(f"{name}: missing (the protocol calls it)")
        else:
            problems += signature_problems(name, decl, getattr(impl, name))
    return problems


@pytest.mark.parametrize("proto", protocols(), ids=lambda p: p.__name__)
def test_the_client_or_its_facet_satisfies_the_port(proto, client):
    impl = FACETS.get(proto, Client)
    problems = conformance_problems(proto, impl, client if impl is Client else None)
    assert not problems, f"{impl.__name__} does not satisfy ports.{proto.__name__}: {problems}"


def test_every_port_has_members_and_the_facets_are_ports():
    for proto in protocols():
        assert members(proto), f"ports.{proto.__name__} declares nothing"
    assert set(FACETS) <= set(protocols())


def test_the_check_catches_a_renamed_or_reshaped_method():
    """The comparison above can fail: a missing method, a renamed or reordered parameter,
    a lost default, a new required parameter."""

    class Renamed:
        def flush(self) -> None: ...

        def end_run(self, run: str, status: str = "FINISHED") -> None: ...

        def log_metric(self, run_id, key, value, step, timestamp=None) -> None: ...

        def set_tags(self, run_id, tags, *, overwrite) -> None: ...

    problems = " | ".join(conformance_problems(ports.RunRecorder, Renamed, None))
    assert "create_run: missing" in problems
    assert "end_run: positional parameter 1 is 'run'" in problems
    assert "log_metric: 'step' has a default in the protocol only" in problems
    assert "set_tags: requires 'overwrite'" in problems
    assert "flush" not in problems


def _client_parameters(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            for arg in a.posonlyargs + a.args + a.kwonlyargs:
                if arg.arg == "client":
                    yield node, arg


def test_every_component_client_parameter_names_a_port():
    """A ``client`` parameter of a component is typed with protocols from ``ports`` (not
    untyped, not ``Any``), so what a component needs of the Client stays written down."""
    names = {p.__name__ for p in protocols()}
    files = [p for c in COMPONENTS for p in (PACKAGE / c).rglob("*.py")]
    files.append(PACKAGE / "fluent_autolog.py")
    seen, wrong = 0, []
    for path in files:
        for fn, arg in _client_parameters(path):
            seen += 1
            used = ({n.id for n in ast.walk(arg.annotation) if isinstance(n, ast.Name)}
                    if arg.annotation else set())
            if not used or not used - {"None"} <= names:
                where = f"{path.relative_to(REPO)}:{fn.lineno} {fn.name}"
                wrong.append(f"{where}: {ast.unparse(arg.annotation) if arg.annotation else '-'}")
    assert seen > 40  # the walk found the components
    assert not wrong, f"client parameters not typed with a jupyter_mlops.ports protocol: {wrong}"


def test_ports_cost_nothing_at_run_time():
    """ports imports only typing at run time, and components import it for type checkers
    only: importing a component never loads it."""
    tree = ast.parse((PACKAGE / "ports.py").read_text(encoding="utf-8"))
    runtime = {a.name if isinstance(n, ast.Import) else n.module
               for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
               for a in n.names}
    assert runtime <= {"__future__", "typing", "collections.abc"}
    code = ("import json, sys; import jupyter_mlops.pipelines.schedule, "
            "jupyter_mlops.pipelines.gates_check, jupyter_mlops.tracking.notebook_diff; "
            "print(json.dumps('jupyter_mlops.ports' in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO).stdout
    assert json.loads(out) is False


MYPY_INI = REPO / "tests" / "typing" / "mypy.ini"


def skipped_packages() -> set[str]:
    """The packages ``tests/typing/mypy.ini`` tells mypy not to read."""
    import configparser

    ini = configparser.ConfigParser()
    ini.read(MYPY_INI, encoding="utf-8")
    return {pattern.strip().removeprefix("mypy-").removesuffix(".*")
            for section in ini.sections() if ini[section].get("follow_imports") == "skip"
            for pattern in section.split(",")}


def port_classes() -> set[type]:
    """The classes whose signatures mypy compares: the ports, the package's classes ports.py
    names in them, and every class behind a port (with its bases)."""
    found = {v for v in vars(ports).values()
             if isinstance(v, type) and v.__module__ == ports.__name__}
    tree = ast.parse((PACKAGE / "ports.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jupyter_mlops"):
            module = importlib.import_module(node.module)
            found |= {obj for a in node.names
                      if isinstance(obj := getattr(module, a.name), type)}
    for cls in (Client, *FACETS.values()):
        found |= {c for c in cls.__mro__ if c.__module__.startswith("jupyter_mlops")}
    return found


@functools.lru_cache(maxsize=None)
def _bound_names(module: str, packages: frozenset[str]) -> set[str]:
    """Names ``module`` binds by importing from ``packages``."""
    bound = set()
    for node in ast.walk(ast.parse(inspect.getsource(sys.modules[module]))):
        if isinstance(node, ast.Import):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names
                      if a.name.split(".")[0] in packages}
        elif isinstance(node, ast.ImportFrom) and not node.level and (
                node.module or "").split(".")[0] in packages:
            bound |= {a.asname or a.name for a in node.names}
    return bound


def names_from(packages: set[str], cls: type) -> set[str]:
    """Names of ``packages`` (as imported by ``cls``'s module) used in ``cls``'s annotations."""
    bound = _bound_names(cls.__module__, frozenset(packages))
    if not bound:
        return set()
    annotations = []
    for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(cls)))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            annotations += [x.annotation for x in (*a.posonlyargs, *a.args, *a.kwonlyargs,
                                                   a.vararg, a.kwarg) if x and x.annotation]
            annotations += [node.returns] if node.returns else []
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
    used = set()
    for annotation in annotations:
        for n in ast.walk(annotation):
            if isinstance(n, ast.Constant) and isinstance(n.value, str):  # "quoted" types
                used |= {m.id for m in ast.walk(ast.parse(n.value)) if isinstance(m, ast.Name)}
            elif isinstance(n, ast.Name):
                used.add(n.id)
    return used & bound


def test_skipped_packages_name_no_port_type():
    """What mypy.ini skips is Any to mypy: harmless only while no signature mypy compares
    names a type of those packages."""
    skipped = skipped_packages()
    assert "sqlalchemy" in skipped  # the file was read
    classes = port_classes()
    assert len(classes) > 40  # the ports, the records they name, the client's classes
    wrong = {f"{c.__module__}.{c.__qualname__}": sorted(used) for c in classes
             if (used := names_from(skipped, c))}
    assert not wrong, f"mypy.ini skips a package a port's signature names: {wrong}"
    # the check sees annotations: ports' own come from typing and collections.abc
    assert names_from({"typing"}, ports.RunReader) == {"Any"}


@pytest.mark.slow  # mypy reads the package's import graph: ~8 s CPU (18 s without mypy.ini)
def test_mypy_accepts_the_client_for_every_port():
    """mypy checks ``tests/typing/client_conforms.py``: a Client assigned to every port."""
    conforms = REPO / "tests" / "typing" / "client_conforms.py"
    text = conforms.read_text(encoding="utf-8")
    missing = [p.__name__ for p in protocols() if f"ports.{p.__name__} " not in text]
    assert not missing, f"client_conforms.py assigns nothing to {missing}"
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(MYPY_INI),
         "--follow-imports=silent", "--no-incremental",
         "--ignore-missing-imports", "--no-error-summary", "--hide-error-context",
         str(conforms), str(PACKAGE / "ports.py")],
        capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
