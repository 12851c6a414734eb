"""The CLI's own process skips jsonschema's eager IRI parser (jupyter_mlops.cli.own_process);
nbformat validation still works there, and `serve` (a user's model code in-process) and
every other process keep jsonschema exactly as installed."""

from __future__ import annotations

import os
import subprocess
import sys

CHECK = """
import sys
import nbformat
from nbformat.v4 import new_code_cell, new_notebook
nb = new_notebook(cells=[new_code_cell("1 + 1")])
nbformat.validate(nb)
try:
    nbformat.validate({"nbformat": 4})
except nbformat.ValidationError:
    pass
else:
    raise SystemExit("an invalid notebook passed validation")
print("rfc3987_syntax" in sys.modules and sys.modules["rfc3987_syntax"] is not None)
"""


def _python(code: str, tmp_path) -> str:
    env = {**os.environ, "MLOPS_TRACKING_URI": f"sqlite:///{tmp_path}/m.db",
           "MLOPS_ARTIFACT_ROOT": str(tmp_path / "art")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]


def test_a_cli_command_validates_notebooks_without_the_iri_parser(tmp_path):
    code = ("from jupyter_mlops.cli import main\n"
            "assert main(['runs', 'list']) == 0\n" + CHECK)
    assert _python(code, tmp_path) == "False"


def test_the_library_leaves_sys_modules_alone(tmp_path):
    """Importing the package, the magics and the pipeline API (a user's kernel) blocks
    nothing: only the CLI's main does."""
    code = ("import sys, jupyter_mlops, jupyter_mlops.notebook, jupyter_mlops.pipelines.api\n"
            "from jupyter_mlops.client import Client\n"
            "print('rfc3987_syntax' in sys.modules)\n")
    assert _python(code, tmp_path) == "False"


def test_serve_is_left_as_installed():
    from jupyter_mlops import cli

    assert "serve" in cli._USER_CODE_GROUPS
    assert set(cli._USER_CODE_GROUPS) <= {group.__name__.rsplit(".", 1)[1]
                                          for group in cli.GROUPS}
