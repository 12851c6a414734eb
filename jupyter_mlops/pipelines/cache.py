"""Step cache keys: run a notebook again only when something that matters changed.

The key hashes, as one JSON document:

- the notebook's *code*, normalised: only code cells, each reduced to its syntax tree
  (``ast.dump``), so outputs, execution counts, cell and notebook metadata, markdown cells,
  comments, blank lines and spacing never invalidate it. IPython syntax (``%magic``,
  ``!cmd``) is first turned into Python the way IPython does, and a ``%mlops`` line is then
  spelt the way the magic reads it (comments, spacing and quoting dropped, see
  :mod:`jupyter_mlops.magic_syntax`); a cell that still does not
  parse falls back to its token stream without comments and whitespace;
- the step's effective parameters (after ``${...}`` substitution);
- the content hash of every declared input (through the store's :class:`HashCache`, so an
  unchanged file costs a ``stat``) and of every output of the steps it depends on;
- the kernel name and the environment digest (Python and installed distributions).

A hit is the newest SUCCEEDED step run with the same key whose output blobs still exist.
"""

from __future__ import annotations

import ast
import functools
import io
import json
import tokenize
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jupyter_mlops.hashing import hash_bytes
from jupyter_mlops.magic_syntax import canonical_line

CACHE_VERSION = 1


def normalise_notebook(notebook: Mapping | str | Path | bytes) -> list[str]:
    """The notebook's code cells as normalised strings, in order (empty cells dropped)."""
    if isinstance(notebook, (str, Path)):
        notebook = json.loads(Path(notebook).read_text())
    elif isinstance(notebook, bytes):
        notebook = json.loads(notebook)
    out = []
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else src
        norm = normalise_code(src)
        if norm:
            out.append(norm)
    return out


@functools.lru_cache(maxsize=4096)
def normalise_code(source: str) -> str:
    """One cell's code without comments, formatting or blank lines."""
    python = _to_python(source)
    try:
        tree = ast.parse(python)
    except SyntaxError:
        return _tokens(python)
    if not tree.body:
        return ""
    tree = _MlopsLines().visit(tree)
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


class _MlopsLines(ast.NodeTransformer):
    """Give every ``%mlops`` line its canonical spelling (:mod:`jupyter_mlops.magic_syntax`).

    IPython turns ``%mlops param  C=0.5  # note`` into
    ``get_ipython().run_line_magic('mlops', 'param  C=0.5  # note')``: the line is a string
    constant, so without this, spacing and comments the magic ignores would change the key.
    """

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        func = node.func
        if (isinstance(func, ast.Attribute) and func.attr in ("run_line_magic", "run_cell_magic")
                and len(node.args) >= 2
                and isinstance(node.args[0], ast.Constant) and node.args[0].value == "mlops"
                and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            node.args[1] = ast.Constant(canonical_line(node.args[1].value))
            if (func.attr == "run_cell_magic" and len(node.args) >= 3
                    and isinstance(node.args[2], ast.Constant)
                    and isinstance(node.args[2].value, str)):
                # the body of `%%mlops track` is code like any other cell
                node.args[2] = ast.Constant(normalise_code(node.args[2].value))
        return node


def _to_python(source: str) -> str:
    if not any(ch in source for ch in "%!?"):
        return source  # plain Python: skip IPython's transformer (and its import)
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - IPython is a dependency
        return source
    try:
        return TransformerManager().transform_cell(source)
    except Exception:
        return source


def _tokens(source: str) -> str:
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.ENCODING,
            tokenize.ENDMARKER}
    parts = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type not in skip:
                parts.append(tok.string if tok.type not in (tokenize.INDENT, tokenize.DEDENT)
                             else tokenize.tok_name[tok.type])
    except tokenize.TokenError:
        pass  # unclosed bracket at the end: every token before it was already seen
    except (IndentationError, SyntaxError):
        lines = [ln.split("#", 1)[0] for ln in source.splitlines()]
        return " ".join(" ".join(lines).split())
    return " ".join(parts)


def cache_key(*, code: list[str], parameters: Mapping[str, Any], inputs: Mapping[str, str],
              upstream: Mapping[str, str], kernel: str, environment: str) -> str:
    """The BLAKE3 digest of everything that decides a step's result.

    Parameters
    ----------
    code : list of str
        :func:`normalise_notebook` of the step's notebook.
    parameters : mapping
        Effective step parameters.
    inputs : mapping
        Input label -> content digest.
    upstream : mapping
        ``"step/output"`` -> digest for every output of the steps it depends on.
    kernel, environment : str
        Kernel name and environment digest.
    """
    doc = {"v": CACHE_VERSION, "code": code,
           "parameters": json.loads(json.dumps(dict(parameters), sort_keys=True, default=repr)),
           "inputs": dict(sorted(inputs.items())), "upstream": dict(sorted(upstream.items())),
           "kernel": kernel, "environment": environment}
    return hash_bytes(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode())
