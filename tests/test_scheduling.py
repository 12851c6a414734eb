"""The suite's own schedule (tests/scheduling.py): scopes and longest-first order."""

from __future__ import annotations

import types

from tests.scheduling import order_longest_first, scope_of, weights_from_junit


def test_a_docs_block_is_scoped_by_its_document_anything_else_by_its_file():
    assert scope_of("tests/docs/test_doc_blocks.py::test_block_runs[README.md:L196-bash]") \
        == "tests/docs/test_doc_blocks.py::README.md"
    assert scope_of("tests/docs/test_doc_blocks.py::test_block_runs[docs/ci.md:L11-python]") \
        == "tests/docs/test_doc_blocks.py::docs/ci.md"
    assert scope_of("tests/docs/test_doc_blocks.py::test_fence_names_a_language[x]") \
        == "tests/docs/test_doc_blocks.py"
    assert scope_of("tests/a/test_b.py::TestC::test_d[1-2]") == "tests/a/test_b.py"


def _items(*nodeids):
    return [types.SimpleNamespace(nodeid=n) for n in nodeids]


def test_heaviest_scope_first_and_each_scope_kept_together_in_order():
    items = _items("a.py::t1", "b.py::t1", "a.py::t2", "c.py::t1", "b.py::t2", "c.py::t2")
    ordered = order_longest_first(items, {"c.py": 9.0, "a.py": 1.0})
    assert [i.nodeid for i in ordered] == [
        "c.py::t1", "c.py::t2", "a.py::t1", "a.py::t2",  # b.py: unknown, 2 tests x 0.5 s
        "b.py::t1", "b.py::t2"]
    assert order_longest_first([], {}) == []


def test_weights_come_from_a_junit_report(tmp_path):
    report = tmp_path / "junit.xml"
    report.write_text(
        '<testsuites><testsuite>'
        '<testcase classname="tests.test_scheduling" name="test_x" time="1.5"/>'
        '<testcase classname="tests.test_scheduling" name="test_y" time="2"/>'
        '<testcase classname="tests.docs.test_doc_blocks" '
        'name="test_block_runs[README.md:L5-bash]" time="3"/>'
        '</testsuite></testsuites>')
    assert weights_from_junit(report) == {"tests/test_scheduling.py": 3.5,
                                          "tests/docs/test_doc_blocks.py::README.md": 3.0}
