"""Child process for the resume test: materialize a view in small batches, announcing each
committed batch on stdout, then hang after the first so the parent can kill it mid-way."""

import sys
import time

from jupyter_mlops.client import Client


def main(view: str, batch_rows: int) -> None:
    client = Client()

    def progress(written: int, total: int) -> None:
        print(f"committed {written} of {total}", flush=True)
        time.sleep(120)  # the parent kills us here, between two committed batches

    client.features.materialize(view, batch_rows=batch_rows, on_progress=progress)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
