"""How a ``%mlops`` line is read: comments, spacing and quoting never change a key or a value.

The pure reader (``jupyter_mlops.magic_syntax``) is checked with hypothesis; the same lines then
run in a real kernel, and feed the pipeline cache key.
"""

from __future__ import annotations

import shlex

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_mlops.magic_syntax import canonical_line, literal, pair, split_line
from jupyter_mlops.pipelines.cache import normalise_code

from .conftest import text_of

KEYS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.]{0,11}", fullmatch=True)
# Values as a user types them: numbers, words, and text with blanks, quotes and '#'.
VALUES = st.one_of(
    st.integers(-10**6, 10**6).map(str),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
    st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
    st.text(st.sampled_from("ab #'\"=x1-"), min_size=1, max_size=10),
)
BLANK = st.sampled_from([" ", "  ", "\t", " \t "])


@st.composite
def spelled(draw, key: str, value: str) -> str:
    """One of the many ways to write key=value on a magic line."""
    needs_quotes = value != shlex.quote(value)  # blanks, quotes or '#'
    quoted_value = shlex.quote(value) if needs_quotes else draw(st.sampled_from(
        [value, f'"{value}"', f"'{value}'"]))
    quoted_key = draw(st.sampled_from([key, f'"{key}"', f"'{key}'"]))
    eq = draw(st.sampled_from(["=", " = ", " =", "= ", "  =  "]))
    if eq.endswith(" ") and (value.startswith("-") or "=" in value):
        # `K= -1` reads as K= then an option, `K= a=b` as two pairs: users attach these
        eq = "=" if value.startswith("-") else " = "
    return f"{quoted_key}{eq}{quoted_value}"


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.data(), st.dictionaries(KEYS, VALUES, min_size=1, max_size=5))
def test_spacing_quoting_and_comments_never_change_a_pair(data, expected):
    words = [data.draw(spelled(k, v)) for k, v in expected.items()]
    blanks = [data.draw(BLANK) for _ in range(len(words) + 1)]
    line = "param" + "".join(b + w for b, w in zip(blanks, words)) + blanks[-1]
    if data.draw(st.booleans()):
        line += "# " + data.draw(st.text(max_size=20).filter(lambda t: "\n" not in t))
    parsed = dict(pair(w) for w in split_line(line)[1:])
    assert parsed == expected, line
    # and the cache key reads the same line the same way as the plain spelling does
    plain = "param " + " ".join(shlex.quote(f"{k}={v}") for k, v in expected.items())
    assert canonical_line(line) == canonical_line(plain)


@pytest.mark.parametrize("line, words", [
    ("param C=0.5  # try a smaller C", ["param", "C=0.5"]),
    ('param note="a # b"', ["param", "note=a # b"]),
    ("param note='a # b' # and a comment", ["param", "note=a # b"]),
    ("param  C=0.5", ["param", "C=0.5"]),
    ('param "C"=0.5', ["param", "C=0.5"]),
    ("param C = 0.5 max_iter =200", ["param", "C=0.5", "max_iter=200"]),
    ("metric acc=0.9 --step 3 # third epoch", ["metric", "acc=0.9", "--step", "3"]),
    ("runs --filter \"params.C = '0.5'\"  # quoted filter kept whole",
     ["runs", "--filter", "params.C = '0.5'"]),
    ("# only a comment", []),
])
def test_examples(line, words):
    assert split_line(line) == words


def test_key_blanks_from_quotes_are_dropped_but_value_blanks_are_kept():
    assert pair(split_line('param " C "=" x "')[1]) == ("C", " x ")


def test_a_comment_inside_a_value_never_turns_it_into_a_number():
    assert literal("1 # note") == "1 # note"
    assert literal("0.5") == 0.5 and literal("true") is True and literal("svc") == "svc"
    assert literal("[1, 2]") == [1, 2]


def test_unbalanced_quotes_are_an_error_for_the_magic_and_kept_verbatim_in_the_key():
    with pytest.raises(ValueError):
        split_line('param note="open')
    assert canonical_line('param note="open') == 'param note="open'


def test_mlops_lines_that_read_the_same_share_a_cache_key():
    plain = "C = 1\n%mlops param C=0.5 max_iter=200\n%mlops metric acc=0.9"
    for variant in (
        "C = 1\n%mlops param  C=0.5   max_iter=200  # smaller C\n%mlops metric acc=0.9",
        'C = 1\n%mlops param "C"=0.5 max_iter = 200\n%mlops   metric acc=0.9 # done',
        "C = 1\n%mlops param C='0.5' max_iter=200\n%mlops metric acc=0.9",
    ):
        assert normalise_code(variant) == normalise_code(plain), variant
    # a real change still changes the key, in a line magic and in `%%mlops track`
    assert normalise_code(plain.replace("0.5", "0.6")) != normalise_code(plain)
    assert normalise_code('%mlops param note="a # b"') != normalise_code("%mlops param note=a")
    track = "%%mlops track --params C\nC = 0.5\n"
    assert normalise_code("%%mlops track  --params C  # keep C\nC = 0.5  # why\n") == \
        normalise_code(track)
    assert normalise_code(track.replace("0.5", "0.7")) != normalise_code(track)


@pytest.mark.kernel
def test_the_magic_reads_lines_like_python_users_write_them(run_magics, read_client):
    executed = run_magics(
        "%mlops start --name  spaced   # a comment after the options",
        "%mlops param C = 0.5  max_iter=200  # try a smaller C",
        '%mlops param "solver"=lbfgs note="a # b"',
        "%mlops metric acc=0.9 --step 1 # first",
        "%mlops tag team = vision # who",
        "%mlops end # done",
        allow_errors=False,
    )
    assert "Ended run 'spaced'" in text_of(executed.cells[-1])
    [run] = read_client.search_runs()
    assert run.name == "spaced"
    assert run.params == {"C": "0.5", "max_iter": "200", "solver": "lbfgs", "note": "a # b"}
    assert run.metrics == {"acc": 0.9}
    assert run.tags["team"] == "vision"


def test_help_states_the_reading_rules_and_is_generated_from_the_parser():
    from jupyter_mlops.notebook.magics import PARSER, SUBCOMMANDS, help_text

    text = help_text()
    assert "trailing `# comment` is ignored" in text
    # every subcommand argparse knows is listed, with the help it was declared with
    assert {"start", "param", "runs", "model", "monitor", "track"} <= set(SUBCOMMANDS)
    assert PARSER.parse_args(["monitor", "churn@champion"]).command == "monitor"
    for name, (_parser, help_line) in SUBCOMMANDS.items():
        assert help_line and help_line in text, name
