"""The store a ``jupyter mlops`` command works on, from the global options it was given."""

from __future__ import annotations

import argparse
from pathlib import Path


def client_for(args: argparse.Namespace, start: str | Path | None = None):
    """The Client for ``--tracking-uri``/``--artifact-root`` (or the resolved default).

    ``start`` is the folder the project's ``.mlops/`` is looked for from (default: the cwd).
    """
    from jupyter_mlops.client import Client

    return Client(getattr(args, "tracking_uri", None), getattr(args, "artifact_root", None),
                  start=start)


def store_start(args: argparse.Namespace) -> Path | None:
    """The folder the store is looked for from: a pipeline file's own, for the commands that
    take one (its project's .mlops/, not the cwd's); None (the cwd) for every other command."""
    if (getattr(args, "group", None), getattr(args, "action", None)) in (
            ("pipeline", "run"), ("schedule", "add")) or (
            getattr(args, "group", None) == "check" and getattr(args, "pipeline", None)):
        return folder_of(args.pipeline)
    return None


def folder_of(pipeline: str) -> Path:
    """Where to look for the project's .mlops/: the pipeline file's folder, not the cwd."""
    path = Path(pipeline).expanduser()
    return path if path.is_dir() else path.parent


def location_for(args: argparse.Namespace):
    """The store a command uses, and why: a pipeline file's command looks from its folder."""
    from jupyter_mlops.config import resolve_locations

    return resolve_locations(args.tracking_uri, args.artifact_root, store_start(args))
