"""Adjustments for processes this project starts and owns: the ``jupyter mlops`` CLI and the
background launcher. Never applied in a kernel, a Jupyter server or a user's own process."""

from __future__ import annotations

import sys


def without_eager_iri_parser() -> None:
    """Spare this process jsonschema's eager IRI parser.

    papermill imports nbformat, nbformat imports jsonschema, and jsonschema (4.24+) imports
    ``rfc3987_syntax`` when it is installed (jupyter-events' ``jsonschema[format-nongpl]``
    installs it), which compiles an Earley grammar at import: about 3 s of CPU on this
    project's 2-core machines, more than the rest of a notebook step's overhead
    (python-jsonschema/jsonschema#1428). The schemas these processes validate (nbformat's)
    use no ``iri`` format. A ``None`` entry in ``sys.modules`` makes that import raise
    ImportError, which jsonschema expects: it then leaves ``iri`` unchecked.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)
