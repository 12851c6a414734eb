"""Every Python and shell block of README.md and docs/ runs, in order, as a reader runs it.

Per document: a fresh project folder (an empty ``.mlops/`` store, a copy of ``examples/`` and
``notebooks/``, no ``MLOPS_*`` variable), one real IPython kernel for its Python blocks, bash
``-euo pipefail`` for its shell blocks (venv first on PATH). Each block is one item, named
``<document>:L<first line of code>-<language>``; see ``session.py`` for what fails a block and
``blocks.py`` for the ``<!-- docs-test: ... -->`` directives.

``KNOWN_BROKEN`` lists the blocks that fail today, each with why. They are expected to fail
(``xfail(strict=True)``): a block that starts passing fails the build until its line is removed
here, and a block not listed fails at once. Editing a document moves its blocks' lines: update
the keys here in the same commit (``test_known_broken_names_real_blocks`` fails on a stale one).

Debugging: ``DOCS_TEST_KEEP_GOING=1`` also runs the blocks after a failed one, to see each
block's own error; ``-rxXs`` prints every expected failure's message.
"""

from __future__ import annotations

import pytest

from .blocks import discover
from .conftest import REPO

#: Blocks that fail today: "<document>:L<first line of code>" -> why (issue 15 tracks them).
#: "after Lnn" means the block fails because that earlier block did; what follows "on its own"
#: is what DOCS_TEST_KEEP_GOING=1 shows it would hit next.
KNOWN_BROKEN: dict[str, str] = {
}

DOCUMENTS = {doc.rel: doc for doc in discover(REPO)}
BLOCKS = [block for doc in DOCUMENTS.values() for block in doc.blocks]


def _param(block, *marks):
    reason = KNOWN_BROKEN.get(block.key)
    if reason is not None:
        marks += (pytest.mark.xfail(strict=True, reason=reason),)
    return pytest.param(block, id=block.id, marks=marks)


@pytest.mark.parametrize("block", [
    _param(b, pytest.mark.kernel, pytest.mark.slow) for b in BLOCKS if b.runnable])
def test_block_runs(block, doc_sessions):
    session = doc_sessions.get(DOCUMENTS[block.doc])
    outcome = session.outcome(block)
    if outcome.status == "skipped":
        pytest.skip(outcome.message)
    if outcome.status == "failed":
        pytest.fail(f"{outcome.message}\n(project folder: {session.project}; "
                    f"kernel and command logs: {session.logs})", pytrace=False)


@pytest.mark.parametrize("block", [_param(b) for b in BLOCKS if not b.runnable])
def test_fence_names_a_language(block):
    """A fence without a known language would silently never run: say ``bash``/``python``
    (runs) or ``text``/``yaml``/… (shown only)."""
    if block.kind == "unknown":
        pytest.fail(f"{block.key}: the fence names no known language "
                    f"({block.language or 'none'}): tag it bash/python to run it, or "
                    "text/yaml/json/... to show it", pytrace=False)
    if block.directive is not None or block.error:
        pytest.fail(f"{block.key}: a docs-test directive on a {block.language} block, "
                    "which never runs", pytrace=False)


@pytest.mark.parametrize("doc", list(DOCUMENTS.values()), ids=list(DOCUMENTS))
def test_directives_attach_to_fences(doc):
    assert not doc.errors, f"{doc.rel}: " + "; ".join(doc.errors)


def test_known_broken_names_real_blocks():
    """A stale key (its block moved or was fixed and removed) would hide nothing and mislead."""
    keys = {b.key for b in BLOCKS if b.runnable or b.kind == "unknown"}
    stale = sorted(set(KNOWN_BROKEN) - keys)
    now = {doc: sorted((b.line for b in BLOCKS if b.doc == doc and b.key in keys))
           for doc in {k.rsplit(":", 1)[0] for k in stale}}
    assert not stale, (f"KNOWN_BROKEN names no such block (lines moved?): {stale}; "
                       f"the blocks of those documents are now at {now}")
    assert all(reason.strip() for reason in KNOWN_BROKEN.values())
