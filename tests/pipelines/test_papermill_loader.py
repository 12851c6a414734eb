"""papermill as a step imports it: its s3/hdfs backends (boto3, pyarrow) load only when used."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def _fresh(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON object last."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_step_imports_papermill_without_boto3_or_pyarrow():
    seen = _fresh("""
        import json, sys
        from jupyter_mlops.pipelines.papermill_loader import import_papermill
        pm = import_papermill()
        loaded = {m: m in sys.modules for m in ("pyarrow", "pyarrow.fs", "boto3", "papermill.s3")}
        print(json.dumps({"loaded": loaded, "execute": callable(pm.execute_notebook),
                          "finders": [type(f).__name__ for f in sys.meta_path]}))
    """)
    assert seen["loaded"] == {"pyarrow": False, "pyarrow.fs": False, "boto3": False,
                              "papermill.s3": False}
    assert seen["execute"]
    assert "_DeferInThisThread" not in seen["finders"]  # removed once papermill is in


def test_the_deferred_backends_load_on_first_use():
    seen = _fresh("""
        import json, sys
        from jupyter_mlops.pipelines.papermill_loader import import_papermill
        import_papermill()
        import papermill.iorw as iorw
        s3 = iorw.S3()                      # what papermill's S3Handler calls for s3:// paths
        selector = iorw.FileSelector("/data", recursive=True)  # what HDFSHandler.listdir uses
        import papermill.s3, pyarrow.fs
        print(json.dumps({"s3": type(s3) is papermill.s3.S3,
                          "selector": isinstance(selector, pyarrow.fs.FileSelector),
                          "recursive": selector.recursive,
                          "hdfs": iorw.HadoopFileSystem.__name__}))
    """)
    assert seen == {"s3": True, "selector": True, "recursive": True,
                    "hdfs": "HadoopFileSystem"}


def test_papermill_imported_before_is_left_as_it_is():
    seen = _fresh("""
        import json
        import papermill, papermill.iorw as iorw
        import papermill.s3
        from jupyter_mlops.pipelines.papermill_loader import import_papermill
        assert import_papermill() is papermill
        print(json.dumps({"s3": iorw.S3 is papermill.s3.S3}))
    """)
    assert seen == {"s3": True}


def test_only_the_importing_thread_is_refused_the_deferred_modules():
    # Another thread (a notebook reading Parquet while a pipeline starts in the same kernel)
    # must get pyarrow while papermill loads.
    seen = _fresh("""
        import json, sys, threading
        from jupyter_mlops.pipelines.papermill_loader import _DeferInThisThread
        finder = _DeferInThisThread()
        sys.meta_path.insert(0, finder)
        try:
            try:
                import pyarrow
                here = "imported"
            except ImportError as exc:
                here = str(exc)
            there = []
            t = threading.Thread(target=lambda: there.append(__import__("pyarrow").__name__))
            t.start(); t.join()
        finally:
            sys.meta_path.remove(finder)
        print(json.dumps({"here": here, "there": there}))
    """)
    assert seen["here"] == "pyarrow is loaded when papermill first needs it"
    assert seen["there"] == ["pyarrow"]
