"""Terminal output shared by every ``jupyter mlops`` command group (one look everywhere)."""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def when(ts: float | None) -> str:
    """A local timestamp for tables, ``-`` when unknown."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def print_table(header: list[str], rows: list[list[Any]]) -> None:
    """Left-aligned columns sized to their widest cell."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for row in (header, *rows):
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())


def dump_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, default=str)
    print()
