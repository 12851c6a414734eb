"""Artifacts of runs: files, folders, bytes, JSON-able values, DataFrames and figures.

Bytes go to the content-addressed blob store; the catalog records a name (a label, never a
trusted path) per run.
"""

from __future__ import annotations

import io
import json
import mimetypes
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.errors import InvalidInputError, NotFoundError
from jupyter_mlops.extras import require
from jupyter_mlops.store.records import ArtifactRecord

if TYPE_CHECKING:
    from jupyter_mlops.store import Store


class ArtifactLogging:
    """Artifact methods of the tracking facet (mixed into RunsClient)."""

    store: Store
    _full_run_id: Callable[[Any], str]  # RunReads: a full run id from an id or prefix

    def log_artifact(self, run_id: str, obj: Any, name: str | None = None,
                     kind: str = "artifact") -> list[ArtifactRecord]:
        """Store a file, a folder, bytes, a JSON-able value, a DataFrame or a figure."""
        if isinstance(obj, (str, Path)):
            path = Path(obj).expanduser()
            if not path.exists():
                raise NotFoundError(f"No file or folder at {str(obj)!r}: check the path.")
            if path.is_dir():
                from jupyter_mlops.store.safe_paths import files_under

                # Listed (and links leading outside refused) before the first file is stored.
                return [self._put_file(run_id, Path(f), f"{name or path.name}/{rel}", kind)
                        for rel, f in files_under(path)]
            return [self._put_file(run_id, path, name or path.name, kind)]
        if hasattr(obj, "savefig"):
            return [self.log_figure(run_id, obj, name or "figure.png")]
        if name is None:
            raise InvalidInputError("Give a name when logging an in-memory object as an artifact.")
        data, media = _serialise(obj, name)
        info = self.store.blobs.put_bytes(data)
        return [self.store.catalog.add_artifact(run_id, name, info.digest, info.size, media, kind)]

    def _put_file(self, run_id: str, path: Path, name: str, kind: str) -> ArtifactRecord:
        info = self.store.blobs.put_file(path)
        media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return self.store.catalog.add_artifact(run_id, name, info.digest, info.size, media, kind)

    def log_figure(self, run_id: str, fig: Any, name: str = "figure.png") -> ArtifactRecord:
        fmt = Path(name).suffix.lstrip(".").lower() or "png"
        if fmt not in ("png", "svg", "pdf", "jpg", "jpeg"):
            raise InvalidInputError(f"Figures are saved as png, svg, pdf or jpg, not {fmt!r}.")
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, bbox_inches="tight")
        info = self.store.blobs.put_bytes(buf.getvalue())
        media = mimetypes.guess_type(f"x.{fmt}")[0] or "application/octet-stream"
        return self.store.catalog.add_artifact(run_id, name if "." in name else f"{name}.png",
                                               info.digest, info.size, media, "figure")

    def list_artifacts(self, run_id: str) -> list[ArtifactRecord]:
        return self.store.catalog.list_artifacts(run_id)

    def delete_artifacts(self, run_id: str, path: str = "") -> int:
        """Delete artifact ``path`` of a run, or the folder ``path`` with all it holds
        (``""``: every artifact of the run); how many artifacts went. Deleting what is not
        there deletes nothing, as MLflow's artifact stores do. The bytes are freed by
        :meth:`gc` once no run and no model version points at them.

        Raises
        ------
        NotFoundError
            No such run.
        """
        full = self._full_run_id(run_id)
        self.store.runs.get_run(full)
        return self.store.catalog.delete_artifacts(full, path)

    def read_artifact(self, run_id: str, name: str) -> tuple[ArtifactRecord, bytes]:
        """The artifact's record and bytes, verified against its hash."""
        record = self.store.catalog.get_artifact(self._full_run_id(run_id), name)
        return record, self.store.blobs.get_bytes(record.digest)

    def download_artifact(self, run_id: str, name: str, dest: str | Path) -> Path:
        """Copy an artifact, or a folder of artifacts, out of the store; return where it went.

        A file artifact is written to ``dest``, or into ``dest`` under its base name when
        ``dest`` is a folder. A folder logged with :meth:`log_artifact` (artifacts named
        ``<name>/…``) is written below ``dest/<base name>`` when ``dest`` is a folder, else
        below ``dest``. Every file is verified against its hash.

        Raises
        ------
        NotFoundError
            The run has no artifact (nor folder of artifacts) called ``name``.
        PathEscapeError
            A stored name would land outside the destination (``..``, an absolute name, a
            symbolic link leading elsewhere). Stored names are data, not trusted paths: all
            are checked before anything is written, and nothing is written outside ``dest``.
        """
        from jupyter_mlops.store.safe_paths import join_under

        dest = Path(dest)
        try:
            record = self.store.catalog.get_artifact(run_id, name)
        except NotFoundError:
            prefix = name.rstrip("/") + "/"
            members = [a for a in self.store.catalog.list_artifacts(run_id)
                       if a.name.startswith(prefix)]
            if not members or prefix == "/":
                raise
            base = dest
            if dest.is_dir():
                base = join_under(dest, Path(prefix.rstrip("/")).name or prefix, "artifact name")
            targets = [(a, join_under(base, a.name[len(prefix):], "artifact name"))
                       for a in members]
            for a, target in targets:
                target.parent.mkdir(parents=True, exist_ok=True)
                join_under(base, a.name[len(prefix):], "artifact name")  # again, now it exists
                self.store.blobs.copy_to(a.digest, target)
            return base
        if dest.is_dir():
            dest = join_under(dest, Path(record.name).name or record.name, "artifact name")
        self.store.blobs.copy_to(record.digest, dest)
        return dest


def _serialise(obj: Any, name: str) -> tuple[bytes, str]:
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj), mimetypes.guess_type(name)[0] or "application/octet-stream"
    if hasattr(obj, "to_parquet") and hasattr(obj, "columns"):
        buf = io.BytesIO()
        if name.endswith(".csv"):
            obj.to_csv(buf, index=False)
            return buf.getvalue(), "text/csv"
        require("pyarrow", "fastparquet", extra="parquet",
                feature="A DataFrame artifact in Parquet (or name it .csv)")
        obj.to_parquet(buf)
        return buf.getvalue(), "application/vnd.apache.parquet"
    if isinstance(obj, (dict, list, tuple, str, int, float, bool)) or obj is None:
        try:
            return json.dumps(obj, indent=2, allow_nan=False).encode(), "application/json"
        except ValueError as exc:
            raise InvalidInputError(f"Artifact {name!r} is not valid JSON: {exc}.") from exc
    raise InvalidInputError(
        f"Cannot store a {type(obj).__name__} as artifact {name!r}: pass a file path, bytes, "
        "a JSON-able value, a DataFrame or a figure (models go to the model registry).")
