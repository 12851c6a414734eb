"""Fuzz every ``%mlops`` subcommand's argument parser: any text → a UsageError or a result.

Two layers. ``test_parser_*`` drives the real magic with every command handler replaced by a
recorder, so millions of odd lines can be tried without touching a store: whatever the text,
the magic either parses it or raises IPython's ``UsageError`` — never ``SystemExit`` (argparse's
default), ``ValueError`` (shlex), ``TypeError`` or anything else that would print a traceback.
````test_magic_store_fuzz.py`` then runs the real handlers on a real store.
"""

from __future__ import annotations

import re
import shlex

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError

from jupyter_mlops.notebook import magics as magics_module
from jupyter_mlops.notebook.magics import SUBCOMMANDS
from tests.reliability.faults import record

COMMANDS = sorted(SUBCOMMANDS)
# The options each subcommand documents in its help (argparse has no public list of them).
OPTIONS = sorted({o for sub, _help in SUBCOMMANDS.values()
                  for o in re.findall(r"(?<![\w-])--?[A-Za-z][\w-]*", sub.format_help())})
NASTY = ["", "=", "==", "k=", "k=\x00", "=v", "a=b=c", "'", '"', "\\", "--", "-", "---x", "-h", "--help",
         "\x00", "\u202e", "😀", "nan", "inf", "-1", "1e999", "0x10", "${HOME}", "$(id)",
         "`id`", "; DROP TABLE runs; --", "' OR '1'='1", "../../etc/passwd", "%mlops",
         "<script>alert(1)</script>", "a" * 300, "[1, 2", "{'a': 1}", "True", "None"]

token = st.one_of(st.sampled_from(OPTIONS), st.sampled_from(NASTY), st.sampled_from(COMMANDS),
                  st.text(max_size=30),
                  st.builds(lambda k, v: f"{k}={v}", st.text(max_size=12), st.text(max_size=12)))


@st.composite
def lines(draw, commands=COMMANDS):
    words = [draw(st.sampled_from(commands))] + draw(st.lists(token, max_size=8))
    quote = draw(st.booleans())
    return " ".join(shlex.quote(w) if quote else w for w in words)


any_line = st.one_of(lines(), st.text(max_size=80))

OK = object()


@pytest.fixture(scope="module")
def stubbed(magics):
    """The magic with every command handler replaced: parsing is all that runs."""
    from jupyter_mlops.notebook.magics import group_modules

    with pytest.MonkeyPatch.context() as mp:
        for name in dir(type(magics)):
            if name.startswith("_cmd_"):
                mp.setattr(type(magics), name, lambda self, args, cell: OK)
        for group in group_modules():  # every component's subcommands too
            mp.setattr(group, "handle", lambda command, args, shell, cell=None: OK)
        yield magics


def _only_usage_errors(call, line, cell=None):
    try:
        result = call(line, cell) if cell is not None else call(line)
    except UsageError as exc:
        assert str(exc).strip()  # says what was wrong
        return None
    return result


@pytest.mark.slow  # 1500 hypothesis examples, 12.1 s measured (load 8)
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=any_line)
def test_parser_line_magic_raises_only_usage_errors(stubbed, line):
    result = _only_usage_errors(stubbed.mlops, line)
    assert result in (None, OK)
    record("fuzz-magic-parser", inputs=1)


@settings(max_examples=300, deadline=None)
@given(line=any_line, cell=st.text(max_size=40))
def test_parser_cell_magic_raises_only_usage_errors(stubbed, line, cell):
    assert _only_usage_errors(stubbed.mlops, line, cell) in (None, OK)
    record("fuzz-magic-parser", inputs=1)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_is_fuzzed(stubbed, command):
    """Each subcommand: its help and a bad option are usage errors; nothing exits."""
    for line in (f"{command} --help", f"{command} --no-such-option", f"{command} -h x"):
        assert _only_usage_errors(stubbed.mlops, line) is None
    record("fuzz-magic-parser", inputs=3)


def test_magic_does_not_catch_keyboard_interrupt_silently(stubbed, monkeypatch):
    """The fuzz contract is about *input*; a real interrupt must still propagate."""
    def boom(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(magics_module.PARSER, "parse_args", boom)
    with pytest.raises(KeyboardInterrupt):
        stubbed.mlops("status")
