"""HTML/JS in run names, tags, params, metric names and notebook cells is shown, never run.

Renders ``%mlops runs`` (the widget's HTML fallback, through the magic in a bare shell) and
``%mlops diff`` HTML for runs carrying script payloads, then parses the HTML: only the markup
the renderers emit may appear — no ``<script>``, ``<img>``, ``<svg>``, ``<iframe>``, no
``on*=`` event handler, no ``javascript:`` URL — and each payload is still visible as text.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from IPython.utils.capture import capture_output

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    "\"><svg onload=alert(3)>",
    "'><iframe src=javascript:alert(4)>",
    "</td></tr></table><b onmouseover=alert(5)>x",
    "<a href='javascript:alert(6)'>click</a>",
]
ALLOWED = {"table", "thead", "tbody", "tr", "th", "td", "h4", "b", "i", "pre", "div", "p",
           "style"}


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.attrs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data):
        self.text.append(data)


def assert_inert(html: str, payloads=PAYLOADS) -> None:
    parser = _Tags()
    parser.feed(html)
    assert set(parser.tags) <= ALLOWED, set(parser.tags) - ALLOWED
    for name, value in parser.attrs:
        assert not name.startswith("on"), (name, value)
        assert "javascript:" not in (value or "").lower(), (name, value)
    text = "".join(parser.text)
    for p in payloads:
        assert p in text, f"payload not shown as text: {p!r}"
    from tests.reliability.faults import record

    record("xss-payload", inputs=max(1, len(payloads)))


@pytest.fixture
def hostile_runs(client):
    NOTEBOOK = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    ids = []
    for i, p in enumerate(PAYLOADS[:2]):
        run = client.create_run(experiment="xss", name=p[:200], tags={"t": p})
        client.log_params(run.id, {p: p, "model": PAYLOADS[i + 2]})
        client.log_metric(run.id, p, float(i))
        nb = dict(NOTEBOOK, cells=[
            {"cell_type": "code", "execution_count": 1, "id": "a", "metadata": {},
             "outputs": [{"output_type": "stream", "name": "stdout", "text": q}],
             "source": q} for q in (PAYLOADS[i], PAYLOADS[i + 4])])
        client.log_notebook(run.id, nb)
        client.end_run(run.id)
        ids.append(run.id)
    return ids


def test_runs_table_html_is_escaped(client, hostile_runs):
    from jupyter_mlops.notebook.widgets import RunsTable, runs_html

    runs = client.search_runs(experiment="xss")
    assert_inert(runs_html(runs), PAYLOADS[:4])
    table = RunsTable(client, experiment="xss")
    try:
        assert_inert(table._repr_mimebundle_()["text/html"], PAYLOADS[:4])
    finally:
        table.close()


def test_runs_magic_output_is_escaped(magics, client, hostile_runs):
    with capture_output() as out:
        magics.mlops("runs -e xss")
    html = "".join(o.data.get("text/html", "") for o in out.outputs)
    assert html, "the magic displayed nothing"
    assert_inert(html, PAYLOADS[:4])


def test_runs_table_error_message_is_escaped(client, hostile_runs):
    from jupyter_mlops.notebook.widgets import RunsTable

    table = RunsTable(client, experiment="xss")
    try:
        table.filter.value = "name = '<script>alert(7)</script>' and"  # a syntax error
        assert table.message.value
        assert_inert(table.message.value, [])
        assert "<script>" not in table.message.value
    finally:
        table.close()


def test_diff_html_is_escaped(magics, client, hostile_runs):
    from jupyter_mlops.notebook.widgets import diff_html
    from jupyter_mlops.tracking.notebook_diff import diff_runs

    left, right = hostile_runs
    html = diff_html(diff_runs(client, left, right))
    assert_inert(html, [PAYLOADS[2], PAYLOADS[3]])
    assert "&lt;script&gt;" in html and "&lt;img" in html
    with capture_output() as out:
        magics.mlops(f"diff {left} {right}")
    shown = "".join(o.data.get("text/html", "") for o in out.outputs)
    assert shown == html


@pytest.mark.parametrize("html", [
    "<script>alert(1)</script>", "<td onclick=x>a</td>", "<p><img src=x></p>",
    "<div style='x' data-x='javascript:alert(1)'>y</div>", "<td>plain</td>",
])
def test_checker_catches_live_markup(html):
    """The checker itself can fail: live markup, or a payload that is not shown as text."""
    with pytest.raises(AssertionError):
        assert_inert(html, ["<script>"] if html == "<td>plain</td>" else [])
