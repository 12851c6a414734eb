"""Cold path: importing papermill in a fresh process, as every uncached ``jupyter mlops
pipeline run`` (and ``check``, ``reproduce``, the scheduler's launcher) does before its
first step, with and without the CLI's own-process adjustment
(``jupyter_mlops.cli.own_process.without_eager_iri_parser``: jsonschema's ``rfc3987_syntax``
Earley parser is not built). Fresh process per sample, the two alternating so both see the
same load; median and max wall and CPU (user+sys) of the child.

    .venv/bin/python benchmarks/cold/papermill_import.py --samples 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile

from _child import clean_env, timed

PLAIN = "import papermill; print('ok')"
OURS = ("from jupyter_mlops.cli.own_process import without_eager_iri_parser\n"
        "without_eager_iri_parser()\nimport papermill; print('ok')")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    env, results = clean_env(), {"plain": [], "ours": []}
    with tempfile.TemporaryDirectory() as cwd:
        for _ in range(args.samples):
            for name, code in (("plain", PLAIN), ("ours", OURS)):
                results[name].append(timed([sys.executable, "-c", code], cwd, env, b"ok"))
    print(f"{'':6} {'wall med':>9} {'wall max':>9} {'cpu med':>8} {'cpu max':>8}  (s)")
    for name, samples in results.items():
        wall, cpu = [w for w, _ in samples], [c for _, c in samples]
        print(f"{name:6} {statistics.median(wall):9.2f} {max(wall):9.2f} "
              f"{statistics.median(cpu):8.2f} {max(cpu):8.2f}")
    saved = statistics.median(c for _, c in results["plain"]) - statistics.median(
        c for _, c in results["ours"])
    print(f"CPU saved per process: {saved:.2f} s (median)")


if __name__ == "__main__":
    main()
