"""The ``%mlops`` subcommands as they are declared: each one's parser and one-line help.

Every module that adds ``%mlops`` subcommands (``notebook/magics.py``, ``models_magics``,
``monitoring_magics``, …) receives a :class:`Subcommands` and calls ``add_parser`` on it,
so none of them needs argparse's private ``_SubParsersAction`` type.
"""

from __future__ import annotations

import argparse
from typing import Any


class Subcommands:
    """The subparsers action, recording each subcommand's parser and help as it is declared.

    argparse keeps the help of a subcommand only in private attributes; recording it here
    lets ``%mlops help`` be generated without reaching into argparse internals.

    Parameters
    ----------
    action
        What ``ArgumentParser.add_subparsers()`` returned.
    """

    def __init__(self, action: Any):
        self._action = action
        #: name -> (its parser, its one-line help), in declaration order.
        self.commands: dict[str, tuple[argparse.ArgumentParser, str]] = {}

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        parser = self._action.add_parser(name, **kwargs)
        self.commands[name] = (parser, kwargs.get("help") or "")
        return parser
