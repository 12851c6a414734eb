"""Ids like git: the records an id or a unique id prefix names, for every lineage node kind.

The Client turns the answer into one id, or a NotFoundError / an ambiguity error listing these
candidates, so every front door (API, CLI, REST, magics) accepts the same short ids.
"""

from __future__ import annotations

from sqlalchemy import select

from jupyter_mlops.store.engine import read_connection
from jupyter_mlops.store.orm import Artifact, DatasetVersion, ModelVersion, RegisteredModel, Run

#: Shorter prefixes match too much to be useful (git's minimum is 4 too).
MIN_PREFIX = 4
#: Kinds whose ids name a row; the other lineage kinds (cell, pipeline, monitor) are free text.
CHECKED_KINDS = ("run", "dataset", "artifact", "model")


def find_ids(url: str, kind: str, text: str, limit: int = 6) -> list[tuple[str, str]]:
    """``(full id, label)`` of the ``kind`` records ``text`` names: itself, else by prefix.

    An exact id wins over longer ids it prefixes. At most ``limit`` rows, so a caller can tell
    "unique" from "ambiguous" and list a few candidates without reading a whole table.
    """
    if kind not in CHECKED_KINDS:
        return [(text, text)]
    prefix_ok = len(text) >= MIN_PREFIX
    # str.isdigit() accepts "²" and "٣", which int() refuses or misreads: ASCII digits only,
    # and few enough of them for a 64-bit column.
    number = text.isascii() and text.isdigit() and len(text) <= 18
    with read_connection(url) as conn:
        if kind == "run":
            rows = conn.execute(select(Run.id, Run.name).where(Run.id == text)).all()
            if not rows and prefix_ok:
                rows = conn.execute(select(Run.id, Run.name)
                                    .where(Run.id.startswith(text, autoescape=True))
                                    .order_by(Run.id).limit(limit)).all()
            return [(i, n or "") for i, n in rows]
        if kind == "artifact":
            if not number:
                return []
            rows = conn.execute(select(Artifact.id, Artifact.name)
                                .where(Artifact.id == int(text))).all()
            return [(str(i), n) for i, n in rows]
        if kind == "dataset":
            d = DatasetVersion
            rows = []
            if number:
                rows = conn.execute(select(d.id, d.name, d.version).where(d.id == int(text))).all()
            if not rows and prefix_ok:  # a digest prefix, as `runs show` prints it
                rows = conn.execute(select(d.id, d.name, d.version)
                                    .where(d.digest.startswith(text, autoescape=True))
                                    .order_by(d.id).limit(limit)).all()
            return [(str(i), f"{n} v{v}") for i, n, v in rows]
        if kind == "model":
            m, v = RegisteredModel, ModelVersion
            name, sep, version = text.rpartition("/")
            # "name/version", as the registry names a version
            if sep and version.isascii() and version.isdigit() and len(version) <= 18:
                rows = conn.execute(select(m.name, v.version).join(v, v.model_id == m.id)
                                    .where(m.name == name, v.version == int(version))).all()
                return [(f"{n}/{ver}", f"{n} v{ver}") for n, ver in rows]
            if not prefix_ok:
                return []
            rows = conn.execute(select(v.digest, m.name, v.version).join(m, v.model_id == m.id)
                                .where(v.digest.startswith(text, autoescape=True))
                                .order_by(v.digest).limit(limit)).all()
            # one model file may be registered twice: it is one node (its digest) all the same
            seen: dict[str, str] = {}
            for dig, n, ver in rows:
                seen.setdefault(dig, f"{n} v{ver}")
            return list(seen.items())
    return []
