"""Test helper: open (and so migrate) a store as soon as GO_FILE appears.

Usage: open_store.py URL ARTIFACT_ROOT GO_FILE — prints the schema revision it then sees.
"""

from __future__ import annotations

import os
import sys
import time

from sqlalchemy import text

from jupyter_mlops.store import open_store
from jupyter_mlops.store.engine import read_connection


def main() -> int:
    url, root, go = sys.argv[1:4]
    deadline = time.monotonic() + 120
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            print("never got the go signal", file=sys.stderr)
            return 3
        time.sleep(0.005)
    store = open_store(url, root)
    store.runs.create_run(experiment="first-open", name=f"pid-{os.getpid()}", user="t")
    with read_connection(url) as conn:
        print(conn.execute(text("SELECT version_num FROM alembic_version")).scalar(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
