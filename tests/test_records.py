from __future__ import annotations

import pickle

import pytest

from autoresearch.records import Record


class Reading(Record):
    """A value and why it may be missing."""

    name: str
    value: float | None = None
    notes: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        return self.value is not None

    def describe(self) -> str:
        return f"{self.name}={self.value}"


def test_a_record_is_a_named_tuple_with_its_body() -> None:
    reading = Reading("loss", 0.5)
    assert reading == ("loss", 0.5, ()) and reading.notes == ()
    assert Reading._fields == ("name", "value", "notes")
    assert Reading("loss").value is None and not Reading("loss").found
    assert reading.found and reading.describe() == "loss=0.5"
    assert reading._replace(value=0.25).value == 0.25 and reading.value == 0.5
    assert repr(reading) == "Reading(name='loss', value=0.5, notes=())"
    assert Reading.__doc__ == "A value and why it may be missing."
    assert Reading.__module__ == __name__ and Reading.__qualname__ == "Reading"
    assert pickle.loads(pickle.dumps(reading)) == reading
    with pytest.raises(AttributeError):
        reading.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Reading()  # type: ignore[call-arg]


def test_a_field_without_default_after_one_with_a_default_is_refused() -> None:
    with pytest.raises(TypeError, match="without a default follows"):

        class Misordered(Record):
            first: int = 0
            second: int


def test_the_named_tuple_machinery_cannot_be_redefined() -> None:
    with pytest.raises(AttributeError, match="cannot redefine _replace"):

        class Clobbering(Record):
            value: int

            def _replace(self, **changes: object) -> Clobbering:
                return self
