"""binder/ installs what the tutorials import.

mybinder installs binder/requirements.txt, then runs binder/postBuild (which pip-installs this
repository with some extras). Every module a tutorial imports must come from that install:
the standard library, or a distribution in the dependency closure of those requirements
(jupyter-mlops' own from pyproject.toml, with the extras postBuild names). A tutorial that
uses a feature behind an extra (the model server, the feature store) needs that extra too.
Cheap: no kernel, no install; the closure is read from this environment's metadata.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
BINDER = ROOT / "binder"
TUTORIALS = sorted((ROOT / "notebooks").glob("0*.ipynb"))
# Features behind an extra (jupyter_mlops/extras.py stops them without it): what a tutorial's
# code says when it uses one, and the extra it needs.
FEATURE_EXTRAS = {
    "jupyter_mlops.serving": "serve",      # 05: the model server (uvicorn)
    "mlops.features.": "parquet",          # 06: the feature store (pyarrow)
}


def binder_install() -> tuple[list[Requirement], set[str]]:
    """The requirements binder installs, and the extras of this repository it asks for."""
    reqs = [Requirement(line.split("#")[0].strip())
            for line in (BINDER / "requirements.txt").read_text().splitlines()
            if line.split("#")[0].strip()]
    post = (BINDER / "postBuild").read_text()
    installs = re.findall(r'pip install[^\n]*?"\.(?:\[([a-z0-9_,-]+)\])?"', post)
    assert installs, "postBuild does not pip-install this repository (\".[extras]\")"
    extras = {e for group in installs for e in group.split(",") if e}
    return reqs, extras


def project_requirements(extras: set[str]) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    optional = project["optional-dependencies"]
    pending, seen = list(extras), set()
    while pending:  # extras may name other extras of the project ("jupyter-mlops[serve]")
        extra = pending.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for r in map(Requirement, optional[extra]):
            if canonicalize_name(r.name) == "jupyter-mlops":
                pending.extend(r.extras)
            else:
                reqs.append(r)
    return reqs


def closure(roots: list[Requirement]) -> set[str]:
    """Every distribution those requirements pull in, as pip would (markers evaluated)."""
    found: set[str] = set()
    pending = [(r, frozenset(r.extras)) for r in roots if r.marker is None or r.marker.evaluate()]
    while pending:
        req, extras = pending.pop()
        name = canonicalize_name(req.name)
        key = f"{name}[{','.join(sorted(extras))}]"
        if key in found:
            continue
        found.add(key)
        found.add(name)
        try:
            requires = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:
            continue  # not installed here, so nothing of it can be imported here either
        for text in requires:
            dep = Requirement(text)
            wanted = dep.marker is None or dep.marker.evaluate({"extra": ""}) or any(
                dep.marker.evaluate({"extra": e}) for e in extras)
            if wanted:
                pending.append((dep, frozenset(dep.extras)))
    return {k for k in found if "[" not in k}


def imports_of(notebook: Path) -> set[str]:
    """Top-level modules the notebook's code cells import (magics turned into Python first)."""
    transform = TransformerManager().transform_cell
    modules = set()
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(transform(cell.source))):
            if isinstance(node, ast.Import):
                modules.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules


def unprovided(modules: set[str], installed: set[str]) -> dict[str, list[str]]:
    """Modules neither in the standard library nor from a distribution in ``installed``."""
    owners = metadata.packages_distributions()
    # This repository's own package: an editable install maps no files to it.
    owners.setdefault("jupyter_mlops", ["jupyter-mlops"])
    missing = {}
    for module in sorted(modules):
        if module in sys.stdlib_module_names:
            continue
        dists = [canonicalize_name(d) for d in owners.get(module, [])]
        if not set(dists) & installed:
            missing[module] = dists
    return missing


def binder_closure() -> tuple[set[str], set[str]]:
    reqs, extras = binder_install()
    return closure(reqs + project_requirements(extras)) | {"jupyter-mlops"}, extras


def test_there_are_tutorials():
    assert [p.name for p in TUTORIALS][:6] == [
        "01-data.ipynb", "02-training.ipynb", "03-registry.ipynb", "04-pipeline.ipynb",
        "05-monitoring.ipynb", "06-features.ipynb"]


@pytest.mark.slow  # 4-8 s: CI runs it, make test-fast does not
def test_binder_installs_every_module_the_tutorials_import():
    installed, _ = binder_closure()
    missing = {nb.name: m for nb in TUTORIALS if (m := unprovided(imports_of(nb), installed))}
    assert not missing, f"imported by the tutorials, not installed by binder/: {missing}"


def test_binder_installs_the_extras_the_tutorials_use():
    _, extras = binder_closure()
    needed = {extra: [nb.name for nb in TUTORIALS if marker in nb.read_text()]
              for marker, extra in FEATURE_EXTRAS.items()}
    assert all(needed.values()), f"a marker no tutorial uses any more: {needed}"
    assert not {e: nbs for e, nbs in needed.items() if e not in extras}, (needed, extras)


def test_the_check_sees_a_module_binder_does_not_install():
    """The checks can fail: optuna (the sweeps extra) and pytest (the test extra) are
    installed in this environment but not by binder."""
    installed, extras = binder_closure()
    assert "sweeps" not in extras
    assert set(unprovided({"optuna", "pytest", "sklearn", "json"}, installed)) == {
        "optuna", "pytest"}
    assert "uvicorn" in installed and "pyarrow" in installed  # the extras postBuild asks for
