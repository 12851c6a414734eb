"""The space grammar: what it reads, and one clear line for anything else (never a crash)."""

from __future__ import annotations

import optuna.distributions as d
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.sweeps.space import GRAMMAR, describe, parse_space


def test_the_documented_example_reads_as_optuna_distributions():
    space = parse_space("lr=loguniform(1e-4,1e-1) depth=int(2,10) kernel=choice(rbf,linear) "
                        "drop=uniform(0,0.5) n=int(1,100,log)")
    assert space == {
        "lr": d.FloatDistribution(1e-4, 1e-1, log=True),
        "depth": d.IntDistribution(2, 10),
        "kernel": d.CategoricalDistribution(["rbf", "linear"]),
        "drop": d.FloatDistribution(0, 0.5),
        "n": d.IntDistribution(1, 100, log=True),
    }


def test_choices_are_literals_when_they_are_and_spaces_are_allowed():
    space = parse_space(" k = choice( 1, 0.5, True, None, 'a b', rbf ) s=int(0, 10, step=2) ")
    assert space["k"].choices == (1, 0.5, True, None, "a b", "rbf")
    assert space["s"] == d.IntDistribution(0, 10, step=2)


def test_a_dict_of_distributions_strings_and_lists():
    space = parse_space({"lr": "loguniform(1e-3, 1)", "n": d.IntDistribution(1, 3),
                         "k": ["a", "b"]})
    assert space["lr"] == d.FloatDistribution(1e-3, 1, log=True)
    assert space["n"] == d.IntDistribution(1, 3)
    assert space["k"].choices == ("a", "b")


def test_describe_round_trips_through_the_grammar():
    text = ("lr=loguniform(0.0001,0.1) depth=int(2,10) k=choice(rbf,linear,1) "
            "drop=uniform(0.0,0.5,step=0.1) n=int(1,100,log)")
    space = parse_space(text)
    again = parse_space(" ".join(f"{k}={describe(v)}" for k, v in space.items()))
    assert again == space


@pytest.mark.parametrize(("text", "token"), [
    ("lr=loguniform(0,1)", "lr=loguniform(0,1)"),   # log needs LOW > 0
    ("depth=int(2.5,10)", "depth=int(2.5,10)"),
    ("x=uniform(1,0)", "x=uniform(1,0)"),
    ("x=normal(0,1)", "x=normal(0,1)"),
    ("x=uniform(0,1) oops", "oops"),
    ("x=uniform(0,1) x=int(1,2)", "x=int(1,2)"),
    ("x=uniform(nan,1)", "x=uniform(nan,1)"),
    ("x=choice()", "x=choice()"),
    ("x=choice(a,a)", "x=choice(a,a)"),
    ("x=uniform(0,1,log)", "x=uniform(0,1,log)"),
    ("x=int(1,10,step=0)", "x=int(1,10,step=0)"),
])
def test_a_bad_token_is_named_with_the_grammar(text, token):
    with pytest.raises(InvalidInputError) as info:
        parse_space(text)
    message = str(info.value)
    assert "\n" not in message
    assert repr(token) in message
    assert GRAMMAR in message


@pytest.mark.parametrize("space", ["", "   ", {}, 3, None, {"x": 3}, {"x": "uniform"}])
def test_empty_or_wrong_types_are_one_line(space):
    with pytest.raises(InvalidInputError) as info:
        parse_space(space)
    assert "\n" not in str(info.value)


_ALPHABET = st.sampled_from(list("abcxyz_=(),. 019-+eE'\"\\\n\t") +
                            ["loguniform", "uniform", "int", "choice", "log", "step=",
                             "nan", "inf", "1e999", "\x00", "é"])


@settings(max_examples=400, deadline=None)
@given(st.lists(_ALPHABET, max_size=30).map("".join))
def test_random_text_parses_or_fails_with_one_line(text):
    try:
        space = parse_space(text)
    except InvalidInputError as exc:
        message = str(exc)
        assert "\n" not in message and "Grammar:" in message or "empty" in message
        return
    assert space and all(isinstance(v, d.BaseDistribution) for v in space.values())


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_any_text_parses_or_fails_with_one_line(text):
    try:
        parse_space(text)
    except InvalidInputError as exc:
        assert "\n" not in str(exc)
