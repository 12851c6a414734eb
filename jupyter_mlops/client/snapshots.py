"""Code snapshots, reproducibility marks and hand-drawn lineage edges of runs."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from jupyter_mlops.errors import NotFoundError

if TYPE_CHECKING:
    from jupyter_mlops.store import Store


class CodeSnapshots:
    """Notebook snapshots and provenance marks of the tracking facet (mixed into RunsClient)."""

    store: Store
    _full_run_id: Callable[[Any], str]  # RunReads: a full run id from an id or prefix

    def log_notebook(self, run_id: str, notebook: Mapping | bytes,
                     path: str | None = None, git_dir: str | None = None) -> None:
        """Store the notebook (nbformat JSON) that produced the run, with its git state.

        The git state is that of ``path``'s repository, else of ``git_dir`` (a kernel whose
        notebook file is unknown passes its working folder: the code is still in a repo).
        """
        from jupyter_mlops.tracking.capture import git_state

        data = notebook if isinstance(notebook, bytes) else json.dumps(
            notebook, sort_keys=True, ensure_ascii=False).encode()
        info = self.store.blobs.put_bytes(data)
        where = path or git_dir
        git = git_state(where) if where else None
        diff_digest = self.store.blobs.put_bytes(git.diff).digest if git and git.diff else None
        self.store.catalog.add_code_snapshot(
            run_id, info.digest, notebook_path=path, git_commit=git and git.commit,
            git_branch=git and git.branch, git_dirty=git and git.dirty,
            git_diff_digest=diff_digest)

    def notebook_snapshot(self, run_id: str) -> dict:
        run_id = self._full_run_id(run_id)
        snap = self.store.catalog.code_snapshot(run_id)
        if snap is None:
            self.store.runs.get_run(run_id)
            raise NotFoundError(f"Run {run_id} has no notebook snapshot.")
        return json.loads(self.store.blobs.get_bytes(snap.digest))

    def mark_not_reproducible(self, run_id: str, reason: str) -> None:
        self.store.runs.mark_not_reproducible(run_id, reason)

    def mark_reproducible(self, run_id: str) -> None:
        self.store.runs.mark_reproducible(run_id)

    def add_lineage(self, src: str, dst: str, relation: str) -> None:
        from jupyter_mlops.store.lineage import parse_node

        (st, si), (dt, di) = parse_node(src), parse_node(dst)
        self.store.lineage.add_edge(st, si, dt, di, relation)
