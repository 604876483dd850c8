"""The validators of pronghorn.validation against pydantic itself (FastAPI's validator).

Each (type, raw value) pair is validated by ``compile_validator`` and by a
pydantic ``TypeAdapter`` in Python lax mode (what FastAPI does with request
data): both must accept it with equal values, or reject it with the same
error list (type, loc, msg, input, ctx).
"""

import dataclasses
import datetime
import decimal
import enum
import json
import re
import uuid
from typing import Annotated, Any, Literal, Optional, Union

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from pronghorn.bodies import JSONBody, msgspec_type
from pronghorn.scalars import Invalid
from pronghorn.validation import compile_validator


class Level(enum.IntEnum):
    low = 1
    high = 2


class Color(str, enum.Enum):
    red = "red"
    green = "green"


@dataclasses.dataclass
class Point:
    a: int
    b: str = "x"


class Movie(TypedDict):
    a: int
    b: list[int]


def outcome(validate: Any, value: Any) -> tuple[str, Any]:
    try:
        return "ok", validate(value)
    except Invalid as exc:
        return "error", json.loads(json.dumps([{**e, "loc": list(e["loc"])} for e in exc.errors],
                                              default=str))
    except ValidationError as exc:
        return "error", json.loads(json.dumps(exc.errors(include_url=False), default=str))


def same_as_pydantic(annotation: Any, value: Any) -> None:
    expected = outcome(TypeAdapter(annotation).validate_python, value)
    found = outcome(compile_validator(annotation), value)
    assert found[0] == expected[0], (annotation, value, expected, found)
    if found[0] == "ok":
        assert type(found[1]) is type(expected[1])
        assert found[1] == expected[1] or found[1] != found[1] and expected[1] != expected[1]
    else:
        assert found[1] == expected[1]


CASES: list[tuple[Any, list[Any]]] = [
    (int, [" 5 ", "5.0", "5.5", "5.", ".5", "1_000", "_1", "1__0", "+5", "-0", "00012", True,
           5.0, 5.5, "1e3", " ", "5 0", "\u0665", "", "abc", None, [1], 12, -3, "0x10", b"5",
           float("nan"), "1" * 5000, "1" * 5000 + ".0"]),
    (float, ["1_0", " 1.5 ", "1e5", "\u0665", True, "0x10", ".5", "5.", 3, "x", None, [1],
             "1,5"]),
    (bool, [1, 0, 2, 1.0, "True", "off", "F", "N", "yes", "", " true", None, "2", 0.5]),
    (str, ["a", 1, b"x", None, 1.5, True, b"\xff"]),
    (bytes, ["abc", b"x", 1]),
    (decimal.Decimal, [" 1.5 ", "1_0", "inf", "nan", 1.5, 1, "x", [1]]),
    (uuid.UUID, ["12345678-1234-5678-1234-56781234567g", "x", "123",
                 "12345678123456781234567812345678", "{12345678-1234-5678-1234-567812345678}",
                 "urn:uuid:12345678-1234-5678-1234-567812345678", 5,
                 "12345678-1234-5678-1234-5678123456789"]),
    (datetime.datetime, ["2020-01-01", "2020-01-01T10:00", "2020-01-01 10:00:00", "2020-1-01",
                         "abcd-01-01", "2020/01/01", "2020-01-32", "2020-01-01T25:00", 1.5e12,
                         "2020-01-01T10:00:00+05:00", "2020-01-01T10:00:00Z", "x",
                         "2020-01-01x", "2020-02-30", "2020-00-01", [1], "-5", "1700000000",
                         "99999999999999999999", 1e20, 99999999999999]),
    (datetime.date, ["2020-01-01", "2020-01-01T00:00:00", "2020-01-01T10:00:00", "2020-01-01x",
                     "abc", "2020-13-01", 1e20, 99999999999999, 86400, "86400"]),
    (datetime.time, ["10:00:00", "25:00", "10:0", "10:00:00Z", "10", "10:00:00.5", "ab:00",
                     "10-00", "10:60", "10:00", 1e20, 3600]),
    (Level, ["1", 3, 1, "a"]),
    (Color, ["red", "blue", 1]),
    (Literal["a", "b"], ["a", "c", 1]),
    (Literal[1, 2], ["1", 1, 3]),
    (Union[int, str], ["5", "x", [1], None, 5]),
    (Union[int, float], ["x", "5", None, "5.5"]),
    (Optional[int], ["x", None, "5"]),
    (Union[Literal["a"], int], ["b", "a", "3"]),
    (Union[list[int], dict[str, int]], [5, [1], {"a": "1"}]),
    (list[int], [[1, "x"], "x", {"a": 1}, ["1", "2"], (1, 2), b"x"]),
    (set[int], [[1], [1, "x"], 5]),
    (frozenset[int], [5]),
    (tuple[int, str], [[1], [1, "a"], [1, "a", 3], 5]),
    (tuple[int, ...], [["x"], 5]),
    (dict[str, int], [{"a": "x", "b": "y"}, [1], {"a": 1}, [("a", 1)]]),
    (dict[int, int], [{"a": 1}]),
    (Point, [{"b": 1}, [1], {"a": "1"}, {"a": 1, "b": "z"}]),
    (Movie, [{"a": "x"}, 5, {"b": [1, "x"]}, {"a": 1, "b": []}]),
    (None, [None, 1]),
    (Annotated[float, Field(gt=0)], [-1, "0", 1]),
    (Annotated[float, Field(gt=1.0)], [0]),
    (Annotated[float, Field(ge=1)], [0]),
    (Annotated[float, Field(lt=0.5)], [1]),
    (Annotated[int, Field(gt=1.0)], [0]),
    (Annotated[int, Field(multiple_of=3)], [4, 6]),
    (Annotated[str, Field(min_length=2, max_length=3, pattern="^a")],
     ["b", "abcd", "bb", "a", "ab", ""]),
    (Annotated[str, Field(min_length=1)], [""]),
    (Annotated[list[str], Field(min_length=2)], [["x"], [], ["a", "b"]]),
    (Annotated[list[int], Field(max_length=1)], [[1, 2]]),
    (Annotated[set[int], Field(min_length=2)], [[1]]),
    (Annotated[tuple[int, ...], Field(max_length=1)], [[1, 2]]),
    (Annotated[frozenset[int], Field(min_length=2)], [[1]]),
    (Annotated[decimal.Decimal, Field(max_digits=3, decimal_places=1)],
     ["1234", "1.25", "12.5", "0.001", "100"]),
    (Annotated[float, Field(allow_inf_nan=False)], ["nan", 1]),
    (Annotated[Optional[str], Field(max_length=2)], ["abc", None]),
]


@pytest.mark.parametrize(("annotation", "value"),
                         [(tp, v) for tp, values in CASES for v in values],
                         ids=[f"{tp}-{v!r}"[:70] for tp, values in CASES for v in values])
def test_like_pydantic(annotation, value):
    same_as_pydantic(annotation, value)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789 +-_.eEnaifNAIF", max_size=8))
def test_int_and_float_strings_like_pydantic(text):
    # pydantic-core skips leading zeros first: "0-5" is -5 and "0__0" is 0 there (not copied)
    if not re.match(r"\s*0+[-+_]", text):
        same_as_pydantic(int, text)
    same_as_pydantic(float, text)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(), st.none(),
                 st.text(max_size=5)))
def test_json_scalars_like_pydantic(value):
    for annotation in (int, float, bool, str, Optional[int]):
        same_as_pydantic(annotation, value)


# ---- the msgspec fast path agrees with the Python validator ------------------------------

class Item(msgspec.Struct):
    name: str
    price: Annotated[float, msgspec.Meta(gt=0)]
    tags: list[str] = []


@dataclasses.dataclass
class WithDefaults:
    x: int
    y: int = 0


@pytest.mark.parametrize("body", [
    b'{"name": "a", "price": 1}', b'{"name": "a", "price": "2", "tags": ["x"]}',
    b'{"name": 1, "price": -1}', b"[]", b"null", b'{"price": 1}',
])
def test_struct_fast_path_and_fallback_agree(body):
    decoder = JSONBody(Item)
    python = compile_validator(Item)
    assert outcome(decoder.decode, body) == outcome(python, msgspec.json.decode(body))


def test_msgspec_is_not_used_where_it_would_answer_differently():
    assert msgspec_type(Item) is Item
    assert msgspec_type(Annotated[float, Field(gt=0)]) is None  # pydantic constraints
    assert msgspec_type(WithDefaults) is None  # msgspec would not store y=0
    assert msgspec_type(float, {"allow_inf_nan": False}) is None
    decoded = JSONBody(WithDefaults).decode(b'{"x": 1}')
    assert vars(decoded) == {"x": 1, "y": 0}


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=4),
    max_leaves=12)
ANY_TYPE = [int, float, bool, str, bytes, decimal.Decimal, uuid.UUID, datetime.datetime,
            datetime.date, datetime.time, datetime.timedelta, Level, Color, Literal["a", 1],
            Optional[int], Union[int, list[str]], list[int], set[str], tuple[int, str],
            tuple[float, ...], dict[str, int], dict[int, str], Point, Movie, Item,
            Annotated[int, Field(gt=0, multiple_of=2)], Annotated[str, Field(pattern="^a")],
            Annotated[decimal.Decimal, Field(max_digits=4, decimal_places=2)]]


@settings(max_examples=400, deadline=None)
@given(JSON_VALUES)
def test_any_json_value_validates_or_is_invalid_never_crashes(value):
    for annotation in ANY_TYPE:
        try:
            compile_validator(annotation)(value)
        except Invalid as exc:
            json.dumps([{**e, "loc": list(e["loc"])} for e in exc.errors], default=str)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=60), JSON_VALUES.map(lambda v: json.dumps(v).encode())))
def test_any_body_decodes_or_is_an_error_never_crashes(body):
    from pronghorn.bodies import BodyParseError

    for annotation in (Item, list[int], dict[str, Point], Optional[Movie], Any):
        try:
            JSONBody(annotation).decode(body)
        except (Invalid, BodyParseError):
            pass
