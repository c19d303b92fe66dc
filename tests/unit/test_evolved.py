"""`core.decider.evolved`: the fast copy-with-changes that folds use must behave like `replace`."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, field, replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.decider import evolved
from core.incidents.state import Clarification


@dataclass(frozen=True, kw_only=True)
class Record:
    name: str
    count: int = 0
    tags: dict[str, int] = field(default_factory=dict)


@given(name=st.text(), count=st.integers(), tags=st.dictionaries(st.text(), st.integers()))
def test_evolved_equals_replace(name: str, count: int, tags: dict[str, int]) -> None:
    original = Record(name="a", count=1, tags={"x": 1})
    changes = {"name": name, "count": count, "tags": tags}
    assert evolved(original, **changes) == replace(original, **changes)
    assert original == Record(name="a", count=1, tags={"x": 1})  # the original is untouched


def test_evolved_keeps_unchanged_fields_and_stays_frozen() -> None:
    asked = datetime(2026, 3, 1, tzinfo=UTC)
    item = Clarification(id="c1", from_party="USA", to_party="RUS", question="which unit?", asked_at=asked)
    answered = evolved(item, answer="frigate B", answered_at=asked)
    assert (answered.id, answered.question, answered.answer) == ("c1", "which unit?", "frigate B")
    assert item.answer is None
    with pytest.raises(FrozenInstanceError):
        answered.answer = "changed"  # type: ignore[misc]


def test_evolved_refuses_unknown_fields_like_replace() -> None:
    with pytest.raises(TypeError, match="no field 'colour'"):
        evolved(Record(name="a"), colour="red")
