"""The layering of docs/architecture.md, checked with import-linter's contracts in pyproject.toml.

The first test runs the contracts on the package as it is. The second proves every contract can
fail: it copies the package, adds one wrong-way import aimed at each contract, and expects each
contract to be reported broken. import-linter reads the source without importing it, so both
runs are quick (about a second each).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"

#: One new wrong-way import per contract id: (module to add, its import line).
PROBES = {
    "layers": ("store/_probe_up.py", "from jupyter_mlops import client"),
    "front-doors-independent": ("notebook/_probe.py", "from jupyter_mlops.server import base"),
    "components-no-front-doors": ("monitoring/_probe.py", "from jupyter_mlops.server import base"),
    "front-doors-no-store": ("server/_probe.py", "from jupyter_mlops.store import runs"),
    "sql-in-the-store": ("registry/_probe_sql.py", "import sqlalchemy"),
}


def _lint(config: Path, cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="1000")  # rich must not wrap contract names
    if pythonpath is not None:
        # Ahead of the installed (or editable) package, so the copy is the one analysed.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command;"
         " sys.exit(lint_imports_command())", "--no-cache", "--no-logo", str(config)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _contracts() -> list[dict]:
    return tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]


def test_the_layering_contracts_hold():
    result = _lint(PYPROJECT, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(_contracts())} kept, 0 broken." in result.stdout


def test_every_contract_fails_on_a_new_wrong_way_import(tmp_path):
    contracts = _contracts()
    assert {c["id"] for c in contracts} == set(PROBES), "give each contract a probe in PROBES"
    copy = tmp_path / "jupyter_mlops"
    shutil.copytree(ROOT / "jupyter_mlops", copy,
                    ignore=shutil.ignore_patterns("__pycache__", "labextension", "*.pyc"))
    for module, line in PROBES.values():
        (copy / module).write_text(f"{line}\n")
    shutil.copy(PYPROJECT, tmp_path / "pyproject.toml")

    result = _lint(tmp_path / "pyproject.toml", cwd=tmp_path, pythonpath=tmp_path)

    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert f"Contracts: 0 kept, {len(contracts)} broken." in out, out
    sections = _broken_sections(out, [c["name"] for c in contracts])
    for contract in contracts:
        probe = "jupyter_mlops." + PROBES[contract["id"]][0].removesuffix(".py").replace("/", ".")
        assert probe in sections[contract["name"]], (contract["id"], out)


def _broken_sections(out: str, names: list[str]) -> dict[str, str]:
    """The text under each contract's heading in the "Broken contracts" part of the report."""
    lines = out.split("Broken contracts", 1)[1].splitlines()
    sections: dict[str, str] = {}
    current = None
    for i, line in enumerate(lines):
        if line in names and i + 1 < len(lines) and set(lines[i + 1]) == {"-"}:
            current = line
            sections[current] = ""
        elif current is not None:
            sections[current] += line + "\n"
    return sections
