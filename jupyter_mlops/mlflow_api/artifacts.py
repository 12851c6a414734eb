"""MLflow's proxied artifact routes (``/api/2.0/mlflow-artifacts/artifacts/...``).

A run's artifact URI is ``mlflow-artifacts:/<experiment>/<run id>/artifacts``, which the
MLflow client turns into these routes, so it needs no access to the store itself. A logged
model's files (MLflow 3: ``<experiment>/models/<model id>/artifacts/...``) are artifacts of
the run that logged it, named ``models/<model id>/...``. Files go to the content-addressed
blob store; names are labels, never paths on this machine. A path with ``..``, an empty or
``.`` segment, a backslash, a NUL or a control character is refused before anything is read.
"""

from __future__ import annotations

from typing import Any

from jupyter_mlops.mlflow_api import fields
from jupyter_mlops.mlflow_api.errors import invalid, not_found

MAX_PATH = 1000


def split(path: str) -> tuple[str, str]:
    """``(run id, artifact name)`` for a path under the artifact root (name may be "")."""
    if not isinstance(path, str) or len(path) > MAX_PATH or not path.isprintable() \
            or "\\" in path:
        raise invalid("Invalid artifact path: at most 1000 printable characters, '/' as the "
                      "separator.")
    parts = path.strip("/").split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise invalid(f"Invalid artifact path {path[:80]!r}: no empty, '.' or '..' segments "
                      "(paths cannot leave their run's artifact root).")
    if len(parts) >= 3 and parts[2] == "artifacts" and parts[1] != "models":
        return fields.run_id({"run_id": parts[1]}), "/".join(parts[3:])
    raise not_found(f"No artifact root at {path[:80]!r}: expected "
                    "<experiment>/<run id>/artifacts/<name>.")


def locate(client: Any, path: str) -> tuple[str, str]:
    """``(run id, artifact name)`` for ``path``, a run's or a logged model's artifact path."""
    parts = path.strip("/").split("/") if isinstance(path, str) else []
    if len(parts) >= 4 and parts[1] == "models" and parts[3] == "artifacts":
        split("/".join([parts[0], "x" * 32, "artifacts", *parts[4:]]))  # same path checks
        from jupyter_mlops.mlflow_api.models import run_of_model

        run_id = run_of_model(client, parts[2])
        return run_id, "/".join(["models", parts[2], *parts[4:]])
    return split(path)


def upload(client: Any, path: str, body: bytes) -> dict:
    run_id, name = locate(client, path)
    if not name:
        raise invalid("Give the artifact's file name after 'artifacts/'.")
    client.store.runs.get_run(run_id)  # the run must exist
    client.log_artifact(run_id, body, name=name)
    return {}


def delete(client: Any, path: str) -> dict:
    """``DELETE`` of a file or a folder (MLflow's ``delete_artifacts``); nothing there is no
    error, as in MLflow's own artifact stores."""
    run_id, name = locate(client, path)
    client.delete_artifacts(run_id, name)
    return {}


def download(client: Any, path: str) -> bytes:
    run_id, name = locate(client, path)
    if not name:
        raise not_found("Give the artifact's file name after 'artifacts/'.")
    _record, data = client.read_artifact(run_id, name)
    return data


def listing(client: Any, request: dict) -> dict:
    path = fields.one(request, "path") or ""
    if not path:
        return {"files": []}
    run_id, folder = locate(client, path)
    return {"files": children(client, run_id, folder)}


def children(client: Any, run_id: str, folder: str) -> list[dict]:
    """The files and sub-folders directly inside ``folder`` of a run's artifacts."""
    client.store.runs.get_run(run_id)
    prefix = folder.rstrip("/") + "/" if folder else ""
    files: dict[str, dict] = {}
    for art in client.list_artifacts(run_id):
        if art.name == folder:  # a file, not a folder: MLflow lists it as itself
            base = art.name.rsplit("/", 1)[-1]
            return [{"path": base, "is_dir": False, "file_size": art.size}]
        if not art.name.startswith(prefix):
            continue
        head, _sep, rest = art.name[len(prefix):].partition("/")
        if rest:
            files.setdefault(head, {"path": head, "is_dir": True})
        else:
            files[head] = {"path": head, "is_dir": False, "file_size": art.size}
    return [files[k] for k in sorted(files)]


def list_run_artifacts(client: Any, request: dict) -> dict:
    """``GET /api/2.0/mlflow/artifacts/list`` (the tracking API's listing, by run id)."""
    run_id = fields.run_id(request)
    folder = fields.text(request, "path", required=False, limit=MAX_PATH) or ""
    if folder:
        split(f"0/{run_id}/artifacts/{folder}")
    found = children(client, run_id, folder.strip("/"))
    for f in found:
        f["path"] = f"{folder.strip('/')}/{f['path']}" if folder else f["path"]
    return {"root_uri": f"mlflow-artifacts:/0/{run_id}/artifacts", "files": found}
