"""Turning a monitor's reference (a DataFrame or a logged dataset) into a cached profile.

The profile is stored as an artifact (no run) named ``monitoring/profiles/<key>.npz``, where
the key hashes the reference data's content hash, the profiling options and the prediction
baseline (the model version's file hash). Creating a second monitor on the same data, or
reopening one, therefore never re-reads or re-sorts the reference.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from jupyter_mlops.errors import InvalidInputError, MlopsError, NotFoundError
from jupyter_mlops.monitoring.profile import PROFILE_FORMAT, ReferenceProfile

if TYPE_CHECKING:  # the Client's shape, for type checkers only
    from jupyter_mlops.ports import ArtifactRecorder, MonitorClient, RegistryHolder

log = logging.getLogger(__name__)
_DATASET_REF = re.compile(r"(?P<name>.+?)(?::(?P<version>\d+))?")


def build_profile(client: MonitorClient, model_ref: str, reference: Any, *, categorical=(),
                  numeric=(), exclude=(), reference_predictions: Any = None
                  ) -> tuple[ReferenceProfile, str, str, int | None]:
    """Return ``(profile, profile blob digest, reference data digest, dataset version id)``."""
    from jupyter_mlops.hashing import hash_bytes

    frame, data_digest, dataset_id = None, None, None
    if isinstance(reference, str):
        dataset = _dataset(client, reference)
        data_digest, dataset_id = dataset.digest, dataset.id
    elif hasattr(reference, "columns") and hasattr(reference, "dtypes"):
        from jupyter_mlops.tracking.capture import fingerprint_dataframe

        frame = reference
        data_digest = fingerprint_dataframe(frame).digest
    else:
        raise InvalidInputError(
            f"reference must be a pandas DataFrame or a logged dataset's name ('name' or "
            f"'name:VERSION'); got {type(reference).__name__}.")
    baseline = _baseline_key(client, model_ref, reference_predictions)
    key = hash_bytes(json.dumps({
        "format": PROFILE_FORMAT, "data": data_digest, "categorical": sorted(categorical),
        "numeric": sorted(numeric), "exclude": sorted(exclude), "baseline": baseline,
    }, sort_keys=True).encode())
    name = f"monitoring/profiles/{key}.npz"
    catalog, blobs = client.store.catalog, client.store.blobs
    try:
        cached = catalog.get_artifact(None, name)
        return ReferenceProfile.from_bytes(blobs.get_bytes(cached.digest)), cached.digest, \
            data_digest, dataset_id
    except NotFoundError:
        pass
    if frame is None:
        frame = _load_dataset(client, dataset)
    features = frame.drop(columns=[c for c in exclude if c in frame.columns])
    preds = reference_predictions
    if preds is None and baseline is not None:
        preds = _predict(client, model_ref, features)
    if preds is not None and len(np.asarray(preds)) != len(frame):
        raise InvalidInputError(f"reference_predictions has {len(np.asarray(preds))} values "
                                f"for {len(frame)} reference rows.")
    profile = ReferenceProfile.from_frame(features, predictions=preds, categorical=categorical,
                                          numeric=numeric, digest=data_digest)
    data = profile.to_bytes()
    info = blobs.put_bytes(data)
    catalog.add_artifact(None, name, info.digest, info.size, "application/x-npz", "monitoring")
    return profile, info.digest, data_digest, dataset_id


def _dataset(client: ArtifactRecorder, text: str):
    m = _DATASET_REF.fullmatch(text)
    if not m:
        raise InvalidInputError(f"{text!r} is not a dataset reference ('name' or 'name:3').")
    return client.get_dataset(m["name"], int(m["version"]) if m["version"] else None)


def _load_dataset(client: ArtifactRecorder, dataset):
    from jupyter_mlops.tracking.capture import TABULAR_SUFFIXES, _read_table

    label = f"dataset {dataset.name!r} v{dataset.version}"
    if not dataset.source:
        raise InvalidInputError(
            f"{label} was logged from a DataFrame, so its rows are not stored: pass the "
            "DataFrame itself as reference=.")
    path = Path(dataset.source)
    if not path.is_file() or path.suffix.lower() not in TABULAR_SUFFIXES:
        raise NotFoundError(f"{label} points at {dataset.source!r}, which is not a readable "
                            "table file (csv, tsv, parquet, json, jsonl) any more.")
    if client.hash_cache().hash(path) != dataset.digest:
        raise InvalidInputError(
            f"{dataset.source!r} changed since {label} was logged: log it again "
            "(`mlops.log_dataset`) and monitor against the new version.")
    return _read_table(path)


def _baseline_key(client: RegistryHolder, model_ref: str,
                  reference_predictions: Any) -> str | None:
    if reference_predictions is not None:
        from jupyter_mlops.hashing import hash_bytes

        arr = np.asarray(reference_predictions)
        return "given:" + hash_bytes(arr.astype(str).tobytes() if arr.dtype == object
                                     else arr.tobytes())
    try:
        version = client.registry.resolve(f"models:/{model_ref}")
    except MlopsError:
        return None
    return f"model:{version.digest}"


def _predict(client: RegistryHolder, model_ref: str, features):
    """The model's outputs on the reference (None when it cannot be loaded safely)."""
    try:
        model = client.registry.load_model(f"models:/{model_ref}")
        return np.asarray(model.predict(features))
    except Exception as exc:  # no baseline is better than no monitor
        log.info("no prediction baseline for %s: %s", model_ref, exc)
        return None
