"""The docs site builds with Sphinx, warnings as errors, as ``make docs`` builds it.

The tutorials are rendered from the clean notebooks (``MLOPS_DOCS_EXECUTED=""``): they are
executed by their own test, not twice in CI. The panel's screenshots come from a folder of
this test's with one of them, so the page shows it and says how to regenerate the others.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
# A 1x1 PNG: the directive only needs a real image file, whatever it shows.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8ffff3f0005fe02fea7d6a4b6"
    "0000000049454e44ae426082")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("docs-site")
    shots = root / "screenshots"
    shots.mkdir()
    (shots / "01-runs.png").write_bytes(PNG)
    env = {**os.environ, "MLOPS_DOCS_EXECUTED": "", "MLOPS_DOCS_SCREENSHOTS": str(shots)}
    out = root / "html"
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(root / "doctrees"), str(DOCS), str(out)],
        env=env, capture_output=True, text=True, check=False)
    assert build.returncode == 0, f"sphinx-build failed:\n{build.stderr}{build.stdout}"
    return out


@pytest.mark.slow
def test_every_page_is_built(site: Path):
    pages = {p.relative_to(DOCS).with_suffix(".html").as_posix()
             for p in DOCS.rglob("*.md") if "_build" not in p.parts}
    pages |= {f"tutorials/{nb.stem}.html" for nb in (REPO / "notebooks").glob("*.ipynb")}
    pages |= {"rest-reference.html"}
    missing = sorted(p for p in pages if not (site / p).is_file())
    assert not missing, f"not built: {missing}"


@pytest.mark.slow
def test_rest_reference_lists_the_routes(site: Path):
    import yaml

    spec = yaml.safe_load((DOCS / "openapi.yaml").read_text(encoding="utf-8"))
    html = (site / "rest-reference.html").read_text(encoding="utf-8")
    absent = [path for path in spec["paths"] if path not in html]
    assert not absent, f"routes of openapi.yaml missing from the REST reference: {absent}"


@pytest.mark.slow
def test_panel_screenshots_shown_when_present(site: Path):
    html = (site / "getting-started.html").read_text(encoding="utf-8")
    assert "01-runs.png" in html and "The Runs tab" in html
    assert "03-run-details.png" not in html
    assert "screenshots are not in this build" in html
    assert "tests/ui" in html      # how to regenerate them
    assert any((site / "_images").glob("01-runs*.png"))


@pytest.mark.slow
def test_every_component_page_shows_its_place_in_the_loop(site: Path):
    """loop.md's tables map each component page to principles/components/roles; the page shows
    them as keys linking back to the loop page."""
    toctree = (DOCS / "components.md").read_text(encoding="utf-8").split(":::{toctree}")[1]
    pages = [line.strip() for line in toctree.split(":::")[0].splitlines()
             if line.strip() and not line.strip().startswith(":")]
    assert "tracking" in pages and "monitoring" in pages
    unmapped = [page for page in pages
                if 'class="mlops-loop-badge"' not in (site / f"{page}.html").read_text("utf-8")]
    assert not unmapped, f"pages loop.md does not map to any principle/component/role: {unmapped}"
    tracking = (site / "tracking.html").read_text(encoding="utf-8")
    assert 'title="ML metadata tracking and logging">P7</span>' in tracking


def _conf():
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_conf", DOCS / "conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    return conf


def test_panel_screenshots_are_ones_the_browser_tests_take():
    """The docs' list of screenshots names files the browser tests write: a renamed screenshot
    would otherwise leave the page saying 'not in this build' for ever."""
    conf = _conf()
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "tests" / "ui").glob("*.py"))
    unknown = [name for name, _ in conf.PANEL_SHOTS if f'"{name}"' not in sources]
    assert not unknown, f"no browser test writes {unknown} (tests/ui/*.py)"


def test_an_executed_tutorial_replaces_the_clean_one(tmp_path: Path):
    """What ``make docs`` relies on: the copy scripts/run-tutorials executed is what the page
    renders (with outputs); a notebook without one is rendered clean, as IPython."""
    import json
    from types import SimpleNamespace

    import nbformat

    conf = _conf()
    executed = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "print(1)", outputs=[nbformat.v4.new_output("stream", text="1\n")])])
    (tmp_path / "01-data.ipynb").write_text(nbformat.writes(executed), encoding="utf-8")
    conf.EXECUTED = tmp_path
    noted: list[str] = []
    app = SimpleNamespace(env=SimpleNamespace(note_dependency=noted.append))
    clean = nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("%time 1")]))

    source = [clean]
    conf._executed_copy(app, "tutorials/01-data", source)
    assert "".join(json.loads(source[0])["cells"][0]["outputs"][0]["text"]) == "1\n"
    assert noted == [str(tmp_path / "01-data.ipynb")]

    source = [clean]
    conf._executed_copy(app, "tutorials/02-training", source)
    rendered = json.loads(source[0])
    assert "".join(rendered["cells"][0]["source"]) == "%time 1"
    assert rendered["metadata"]["language_info"]["pygments_lexer"] == "ipython3"
