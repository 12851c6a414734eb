"""Sphinx configuration of the docs site: MyST Markdown + MyST-NB notebooks, pydata theme.

``make docs`` builds it (the tutorials executed first by ``scripts/run-tutorials``);
``tests/docs/test_docs_site.py`` builds it in CI with warnings as errors.

Two things come from outside ``docs/`` and are picked up when present, never committed:

- executed tutorials: ``tutorials/`` is a link to ``../notebooks``; when an executed copy of a
  notebook exists in ``_build/tutorials/`` (written by ``scripts/run-tutorials``), its text
  replaces the clean notebook's as Sphinx reads it, so the page shows its outputs. Notebooks are
  never executed by Sphinx itself (``# architecture.md's ```mermaid block is a diagram, drawn by sphinxcontrib-mermaid.
myst_fence_as_directive = ["mermaid"]
nb_execution_mode = "off"``).
- panel screenshots: the ``{panel-screenshots}`` directive shows the PNGs the browser tests
  wrote to ``ui-tests/screenshots/`` and says how to regenerate the missing ones.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.util.docutils import SphinxDirective

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
#: Executed copies of the tutorials (``scripts/run-tutorials docs/_build/tutorials``);
#: MLOPS_DOCS_EXECUTED points elsewhere, or to nothing ("") to render the clean notebooks.
_executed = os.environ.get("MLOPS_DOCS_EXECUTED", str(DOCS / "_build" / "tutorials"))
EXECUTED = Path(_executed) if _executed else None
#: Where the browser tests write their screenshots (tests/ui/conftest.py); the docs test points
#: MLOPS_DOCS_SCREENSHOTS at a folder of its own.
SCREENSHOTS = Path(os.environ.get("MLOPS_DOCS_SCREENSHOTS", REPO / "ui-tests" / "screenshots"))

project = "jupyter-mlops"
author = "jupyter-mlops contributors"
copyright = "jupyter-mlops contributors"

extensions = ["myst_nb", "sphinxcontrib.openapi", "sphinxcontrib.mermaid"]
# The pages are Markdown (MyST) and notebooks (MyST-NB); the REST reference is reStructuredText
# because sphinxcontrib-openapi writes reStructuredText.
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = [
    "_build", "ci", "Thumbs.db", ".DS_Store", "**/.ipynb_checkpoints",
    # notebooks/ also holds papermill output folders and the like: only the notebooks show.
    "tutorials/*/**",
]
templates_path = ["_templates"]
html_static_path = ["_static"]
html_css_files = ["mlops.css"]

# colon fences (:::{toctree}) keep MyST directives out of the fenced code blocks that
# tests/docs/test_doc_blocks.py runs or checks for a known language.
myst_enable_extensions = ["colon_fence", "deflist", "fieldlist"]
myst_heading_anchors = 4
# architecture.md's ```mermaid block is a diagram, drawn by sphinxcontrib-mermaid.
myst_fence_as_directive = ["mermaid"]
nb_execution_mode = "off"
nb_merge_streams = True

html_theme = "pydata_sphinx_theme"
html_title = "jupyter-mlops"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
}
html_theme_options["article_header_end"] = ["loop-badge.html"]
# Pages without sub-pages: no empty "Section Navigation" column.
html_sidebars = {page: [] for page in ("index", "getting-started", "loop", "rest-reference")}


def _executed_copy(app, docname: str, source: list[str]) -> None:
    """Render a tutorial with its outputs when ``scripts/run-tutorials`` has executed it."""
    if not docname.startswith("tutorials/"):
        return
    name = docname.removeprefix("tutorials/") + ".ipynb"
    if EXECUTED is not None and (EXECUTED / name).is_file():
        source[0] = (EXECUTED / name).read_text(encoding="utf-8")
        app.env.note_dependency(str(EXECUTED / name))
    # Cells run in an IPython kernel (magics, !commands): highlight them as IPython. A notebook
    # that was never executed often names plain "python", whose lexer stops at every magic.
    notebook = json.loads(source[0])
    language = notebook.setdefault("metadata", {}).setdefault("language_info", {})
    if language.get("pygments_lexer") is None and language.get("name", "python") == "python":
        language["pygments_lexer"] = "ipython3"
        source[0] = json.dumps(notebook)


#: Top-level pages with a place of their own in index.md's toctree; every other top-level
#: Markdown page is a component page.
NOT_COMPONENTS = {"index", "getting-started", "loop", "tutorials", "components"}


def _new_component_pages(app, docname: str, source: list[str]) -> None:
    """A component page added to docs/ after components.md's list was written joins the
    Components toctree at its end, instead of failing the build as "not in any toctree"."""
    if docname != "components":
        return
    listed = set(re.findall(r"^([\w-]+)\s*$", source[0], re.M))
    new = sorted(p.stem for p in DOCS.glob("*.md") if p.stem not in NOT_COMPONENTS | listed)
    if new:
        source[0] += "\n:::{toctree}\n:maxdepth: 1\n\n" + "\n".join(new) + "\n:::\n"


#: The screenshots worth a place in the docs, in the order a reader meets them, with captions.
PANEL_SHOTS = [
    ("01-runs.png", "The Runs tab: every run of the project, filtered and sorted."),
    ("03-run-details.png", "One run: parameters, metrics, artifacts, datasets and lineage."),
    ("04-notebook-snapshot.png", "The notebook as it was when the run ended."),
    ("05-compare.png", "Runs compared: metrics and parameters side by side."),
    ("05b-compare-notebook-diff.png", "The cell-level diff of two runs' notebooks."),
    ("19-monitors.png", "The Monitoring tab: monitors of served models."),
    ("20-monitor-drift.png", "A monitor's drift, per feature and window."),
    ("features-view.png", "The Features tab: a feature view and its versions."),
]
#: How to regenerate them: (text, is it a command) pieces of one paragraph.
REGENERATE = [
    ("The browser tests take these screenshots (into ui-tests/screenshots/, not committed). "
     "To regenerate them, run ", False),
    ("scripts/install-system-deps", True), (" once (Chromium), then ", False),
    (".venv/bin/python -m pytest -p no:xdist -m browser tests/ui", True), (" and ", False),
    ("make docs", True), (".", False),
]


class PanelScreenshots(SphinxDirective):
    """The browser tests' screenshots of the panel that exist, and how to get the others."""

    def run(self) -> list[nodes.Node]:
        found = [(name, caption) for name, caption in PANEL_SHOTS
                 if (SCREENSHOTS / name).is_file()]
        missing = len(PANEL_SHOTS) - len(found)
        result: list[nodes.Node] = []
        for name, caption in found:
            path = SCREENSHOTS / name
            self.env.note_dependency(str(path))
            uri = os.path.relpath(path, Path(self.env.doc2path(self.env.docname)).parent)
            figure = nodes.figure("", nodes.image(uri=uri, alt=caption),
                                  nodes.caption("", caption))
            result.append(figure)
        note = nodes.paragraph()
        if missing:
            note += nodes.Text(f"{missing} of the {len(PANEL_SHOTS)} screenshots are not in "
                               "this build. ")
        for text, command in REGENERATE:
            note += nodes.literal(text, text) if command else nodes.Text(text)
        result.append(note)
        return result


def _repository_paths(app, doctree) -> None:
    """A link from a page to a file of the repository outside docs/ (``../examples/...``)
    has no page on the site: show its text (which names the path) instead of a broken link."""
    for node in list(doctree.findall(addnodes.pending_xref)):
        if node.get("reftype") != "myst":
            continue
        target = node["reftarget"]
        if node.get("refdomain") != "doc":     # a path as written, relative to the page
            target = Path(app.env.doc2path(node["refdoc"])).parent / target
        path = Path(os.path.normpath(target))
        if path.is_relative_to(DOCS) or not path.is_relative_to(REPO):
            continue
        if path.exists() or any(path.parent.glob(path.name + ".*")):
            node.replace_self(node.children)


#: A row of loop.md's tables: its **P1**/**C1**/**R1** key, its name, and the rest of the row.
_LOOP_ROW = re.compile(r"^\| \*\*(?P<key>[PCR]\d)\*\* (?P<name>[^|]+)\|(?P<rest>.*)$", re.M)
_PAGE_LINK = re.compile(r"\]\((?P<page>[\w./-]+?)\.(?:md|rst)(?:#[\w-]*)?\)")


def loop_map(text: str) -> dict[str, list[tuple[str, str]]]:
    """Page -> the principles, components and roles that loop.md's tables send to it: loop.md
    is the one place the mapping is written; each page shows its part of it."""
    pages: dict[str, list[tuple[str, str]]] = {}
    for row in _LOOP_ROW.finditer(text):
        for link in _PAGE_LINK.finditer(row["rest"]):
            entry = (row["key"], row["name"].strip())
            if entry not in pages.setdefault(link["page"], []):
                pages[link["page"]].append(entry)
    return pages


def _loop_badge(app, pagename, templatename, context, doctree) -> None:
    """Give loop-badge.html the principles, components and roles loop.md maps to the page."""
    if not hasattr(app.env, "mlops_loop"):
        app.env.mlops_loop = loop_map((DOCS / "loop.md").read_text(encoding="utf-8"))
    context["mlops_loop"] = app.env.mlops_loop.get(pagename, [])
    context["mlops_loop_page"] = app.builder.get_relative_uri(pagename, "loop")


def _escape_markdown_text() -> None:
    """sphinxcontrib-openapi turns the spec's Markdown descriptions into reStructuredText with
    sphinx-mdinclude, whose renderer passes plain text through unescaped: a literal ``*`` (as in
    "every metric but system/*") then opens an emphasis that never closes, a warning. Plain
    text has no markup by definition, so escape reStructuredText's inline markup characters."""
    from sphinx_mdinclude.render import RestRenderer

    if getattr(RestRenderer.text, "escapes_rst", False):
        return
    plain = RestRenderer.text

    def text(self, text: str) -> str:
        return plain(self, re.sub(r"([\\*`|_])", r"\\\1", text))

    text.escapes_rst = True
    RestRenderer.text = text


def setup(app):
    _escape_markdown_text()
    app.connect("doctree-read", _repository_paths)
    app.connect("source-read", _executed_copy)
    app.connect("source-read", _new_component_pages)
    app.connect("html-page-context", _loop_badge)
    app.add_directive("panel-screenshots", PanelScreenshots)
    return {"parallel_read_safe": True}
