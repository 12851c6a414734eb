"""The argparse pieces every ``jupyter mlops`` command group builds on (public argparse only)."""

from __future__ import annotations

import argparse
from typing import Any, Protocol


class Subparsers(Protocol):
    """What ``ArgumentParser.add_subparsers()`` returns, as far as a command group uses it."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser: ...


class CommandParser(argparse.ArgumentParser):
    """The parser of every command and action: ``-v`` may follow it too.

    ``jupyter mlops runs list -v`` reads as well as ``jupyter mlops -v runs list``. Sub-parsers
    made by ``add_subparsers()`` default to their parent's class, so every level gets it.
    SUPPRESS: a command not given ``-v`` leaves the top-level value alone.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS,
                          help="print the store in use and why (to stderr)")
