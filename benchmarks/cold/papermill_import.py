"""Cold path: importing papermill in a fresh process, as every uncached ``jupyter mlops
pipeline run`` (and ``check``, ``reproduce``, the scheduler's launcher) does before its
first step: plain; with the CLI's own-process adjustment
(``jupyter_mlops.cli.own_process.without_eager_iri_parser``: jsonschema's ``rfc3987_syntax``
Earley parser is not built); and as a step imports it, adjustment plus
``jupyter_mlops.pipelines.papermill_loader.import_papermill`` (papermill's s3/hdfs backends,
boto3 and pyarrow, loaded on first use). Fresh process per sample, the three alternating so
all see the same load; median and max wall and CPU (user+sys) of the child.

    .venv/bin/python benchmarks/cold/papermill_import.py --samples 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile

from _child import clean_env, timed

PLAIN = "import papermill; print('ok')"
ADJUSTED = ("from jupyter_mlops.cli.own_process import without_eager_iri_parser\n"
            "without_eager_iri_parser()\nimport papermill; print('ok')")
STEP = ("from jupyter_mlops.cli.own_process import without_eager_iri_parser\n"
        "without_eager_iri_parser()\n"
        "from jupyter_mlops.pipelines.papermill_loader import import_papermill\n"
        "import_papermill(); print('ok')")
VARIANTS = (("plain", PLAIN), ("adjusted", ADJUSTED), ("step", STEP))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    env, results = clean_env(), {name: [] for name, _ in VARIANTS}
    with tempfile.TemporaryDirectory() as cwd:
        for _ in range(args.samples):
            for name, code in VARIANTS:
                results[name].append(timed([sys.executable, "-c", code], cwd, env, b"ok"))
    print(f"{'':8} {'wall med':>9} {'wall max':>9} {'cpu med':>8} {'cpu max':>8}  (s)")
    for name, samples in results.items():
        wall, cpu = [w for w, _ in samples], [c for _, c in samples]
        print(f"{name:8} {statistics.median(wall):9.2f} {max(wall):9.2f} "
              f"{statistics.median(cpu):8.2f} {max(cpu):8.2f}")
    cpu_median = {name: statistics.median(c for _, c in samples)
                  for name, samples in results.items()}
    adjustment = cpu_median["plain"] - cpu_median["adjusted"]
    deferred = cpu_median["adjusted"] - cpu_median["step"]
    print(f"CPU saved per process, median: adjustment {adjustment:.2f} s, "
          f"deferred backends {deferred:.2f} s more")


if __name__ == "__main__":
    main()
