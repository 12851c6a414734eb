"""Which file of a run a ``runs:/<run id>/<artifact>`` URI names, and the description beside it.

``<artifact>`` is a model file the run logged (``model/lightgbm.txt``,
``model/model.safetensors``, ...) or the folder autologging wrote (``model``): a folder
names the file its description says it holds — ``lightning.json``'s or ``model.json``'s
``file``, or ``model.skops``. The description is read as untrusted JSON: at most
:data:`MAX_DESCRIPTION_BYTES`, any JSON value, None when absent or unreadable; the flavor
that reads it checks what it uses.
"""

from __future__ import annotations

import json
import posixpath
from typing import TYPE_CHECKING, Any

from jupyter_mlops.errors import NotFoundError

if TYPE_CHECKING:  # the Client's shape, for type checkers only
    from jupyter_mlops.ports import RegistryBacking
    from jupyter_mlops.store.records import ArtifactRecord

#: A description is a few kB: anything larger is something else.
MAX_DESCRIPTION_BYTES = 1 << 20
#: Descriptions a folder may hold, in the order they are asked.
DESCRIPTIONS = ("lightning.json", "model.json")


def model_file(client: RegistryBacking, run_id: str, artifact: str
               ) -> tuple[str, ArtifactRecord]:
    """``(artifact name, record)`` of the model file ``artifact`` names.

    Raises
    ------
    NotFoundError
        Neither a file nor a folder with a description naming a file the run has.
    """
    catalog = client.store.catalog
    try:
        return artifact, catalog.get_artifact(run_id, artifact)
    except NotFoundError as missing:
        folder = artifact.rstrip("/")
        for name in DESCRIPTIONS:
            about = description(client, run_id, posixpath.join(folder, name))
            inner = _named_file(about)
            if inner is not None:
                path = posixpath.join(folder, inner)
                return path, catalog.get_artifact(run_id, path)
        raise missing


def _named_file(about: Any) -> str | None:
    if not isinstance(about, dict):
        return None
    inner = about.get("file")
    if inner is None and about.get("flavor") == "skops":
        inner = "model.skops"
    if not isinstance(inner, str) or not inner or "/" in inner or inner in (".", ".."):
        return None
    return inner


def description(client: RegistryBacking, run_id: str, name: str) -> Any:
    """The JSON value of the run's artifact ``name``, or None."""
    try:
        record = client.store.catalog.get_artifact(run_id, name)
    except NotFoundError:
        return None
    if record.size > MAX_DESCRIPTION_BYTES:
        return None
    try:
        return json.loads(client.store.blobs.get_bytes(record.digest))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def description_beside(client: RegistryBacking, run_id: str, artifact: str,
                       filename: str) -> Any:
    """The description ``filename`` in ``artifact``'s folder (see :func:`description`)."""
    return description(client, run_id, posixpath.join(posixpath.dirname(artifact), filename))
