"""One project folder, one kernel and one set of background processes per document.

Only one document's session is open at a time: items run in document order, so when the first
block of the next document asks for its session, the previous one is closed (its kernel and
servers stopped) — two documents never share state, and the machine never holds two kernels
for this suite.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .blocks import Document
from .session import DocSession, make_project, reader_env

REPO = Path(__file__).resolve().parents[2]


class DocSessions:
    def __init__(self, factory: pytest.TempPathFactory):
        self._factory = factory
        self._current: DocSession | None = None

    def get(self, doc: Document) -> DocSession:
        if self._current is not None and self._current.doc is doc:
            return self._current
        self.close()
        base = self._factory.mktemp(re.sub(r"[^A-Za-z0-9]+", "-", doc.rel).strip("-"))
        project = make_project(REPO, base / "project")
        self._current = DocSession(doc, project, reader_env(base / "mlops-home"), base / "logs")
        return self._current

    def close(self) -> None:
        if self._current is not None:
            current, self._current = self._current, None
            current.close()


# Module scope: the last document's kernel and servers stop when the docs tests end, not when
# the whole suite does (a server on a documented port would otherwise outlive them for minutes).
@pytest.fixture(scope="module")
def doc_sessions(tmp_path_factory):
    sessions = DocSessions(tmp_path_factory)
    yield sessions
    sessions.close()
