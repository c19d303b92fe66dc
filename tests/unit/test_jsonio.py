"""`core.jsonio`: orjson where it is faster, the standard library's results everywhere else."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.jsonio import dumps_text, loads

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(value=JSON_VALUES)
def test_round_trips_like_the_standard_library(value: object) -> None:
    text = dumps_text(value)
    assert json.loads(text) == json.loads(json.dumps(value))
    assert loads(text.encode()) == json.loads(text) == loads(text)


def test_falls_back_for_what_orjson_refuses() -> None:
    big = 2**70
    assert json.loads(dumps_text({"n": big})) == {"n": big}
    assert loads(b'{"n": 1180591620717411303424}') == {"n": 2**70}
    assert loads(b'"\\ud800"') == json.loads('"\\ud800"')  # a lone surrogate, as json reads it


@pytest.mark.parametrize("document", [b'{"x": NaN}', b'{"x": Infinity}', b'[-Infinity]'])
def test_refuses_non_finite_numbers(document: bytes) -> None:
    with pytest.raises(ValueError, match="not a JSON number Parley writes"):
        loads(document)


def test_refuses_invalid_json_with_a_value_error() -> None:
    with pytest.raises(ValueError):
        loads(b'{"x": ')
    with pytest.raises(ValueError):
        loads(b"\xff\xfe")
