"""Datasets of runs: files, folders, DataFrames and numpy arrays versioned by content."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.errors import InvalidInputError, NotFoundError
from jupyter_mlops.store.labels import check_label
from jupyter_mlops.store.records import DatasetVersionRecord

if TYPE_CHECKING:
    from jupyter_mlops.hashing import HashCache
    from jupyter_mlops.store import Store


class DatasetLogging:
    """Dataset methods of the tracking facet (mixed into RunsClient)."""

    store: Store
    _hash_cache: HashCache | None

    def log_dataset(self, run_id: str | None, data: Any, name: str,
                    role: str = "input") -> DatasetVersionRecord:
        """Version a file, folder, DataFrame or numpy array by content; link it to the run."""
        from jupyter_mlops.tracking.capture import fingerprint_dataframe, fingerprint_path

        if role not in ("input", "output"):
            raise InvalidInputError(f"role must be 'input' or 'output', not {role!r}.")
        check_label(name, "dataset name")
        if isinstance(data, (str, Path)):
            path = Path(data).expanduser()
            if not path.exists():
                raise NotFoundError(f"No file or folder at {str(data)!r}: check the path.")
            digest = self.hash_cache().hash(path)
            # A version with this content is returned as recorded: skip reading the table
            # for statistics (pandas), e.g. for every cached pipeline step's outputs.
            known = self.store.catalog.find_dataset_version(name, digest)
            fp = None if known is not None else fingerprint_path(path, digest)
        elif hasattr(data, "dtypes") and hasattr(data, "columns"):
            known, fp = None, fingerprint_dataframe(data)
        elif _is_ndarray(data):
            known, fp = None, _fingerprint_array(data)
        else:
            raise InvalidInputError(
                f"Cannot log a {type(data).__module__}.{type(data).__qualname__} as a dataset: "
                "pass a file or folder path, a pandas DataFrame or a numpy array (convert "
                "other data with pandas.DataFrame(...) or numpy.asarray(...)).")
        record = known if fp is None else self.store.catalog.add_dataset_version(
            name, fp.digest, source=fp.source, size=fp.size, row_count=fp.row_count,
            schema=fp.schema, stats=fp.stats, run_id=run_id)
        if run_id:
            if role == "input":
                self.store.lineage.add_edge("dataset", str(record.id), "run", run_id, "input")
            else:
                self.store.lineage.add_edge("run", run_id, "dataset", str(record.id), "produced")
        return replace(record, role=role)

    def hash_cache(self) -> HashCache:
        if self._hash_cache is None:
            from jupyter_mlops.hashing import HashCache

            local = self.store.local_dir
            self._hash_cache = HashCache(str(local / "hashcache.sqlite") if local else None)
        return self._hash_cache

    def get_dataset(self, name: str, version: int | None = None) -> DatasetVersionRecord:
        return self.store.catalog.get_dataset(name, version)

    def list_datasets(self, name: str | None = None) -> list[DatasetVersionRecord]:
        return self.store.catalog.list_dataset_versions(name)


def _is_ndarray(data: Any) -> bool:
    numpy = sys.modules.get("numpy")  # an array exists only once numpy was imported
    return numpy is not None and isinstance(data, numpy.ndarray)


def _fingerprint_array(data):
    """A numpy array's fingerprint: content digest; shape and dtype as its schema."""
    from jupyter_mlops.hashing import hash_array
    from jupyter_mlops.tracking.capture import DataFingerprint

    return DataFingerprint(hash_array(data), None, int(data.nbytes),
                           int(data.shape[0]) if data.ndim else None,
                           {"dtype": str(data.dtype), "shape": str(list(data.shape))}, None)
