"""Scalar conversions with pydantic's lax-mode rules and error wording.

Owns: one function per scalar type (``to_int``, ``to_float``, ``to_bool``,
``to_str``, ``to_bytes``, ``to_decimal``, ``to_uuid``, ``to_datetime``,
``to_date``, ``to_time``, ``to_timedelta``) turning a raw value — a string
from the query, a header or the path, or a JSON value — into the Python
value, and the ``Invalid`` exception they raise. The accepted spellings and
the error ``type``/``msg``/``ctx`` are those of pydantic v2 (what FastAPI
answers), e.g. ``"1_000"`` and ``" 5 "`` are ints, ``"yes"`` is True,
``"5.5"`` is an ``int_parsing`` error.

Invariants: the common case costs one builtin call and raises nothing
(``int(" 5 ")``); exceptions happen only for invalid input. ``loc`` of the
errors raised here is empty: callers prefix it.

Must not know about: requests, markers, composite types (validation.py).
"""

from __future__ import annotations

import math
import re
import sys
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

__all__ = ["Invalid", "error", "to_bool", "to_bytes", "to_date", "to_datetime", "to_decimal",
           "to_float", "to_int", "to_str", "to_time", "to_timedelta", "to_uuid"]


class Invalid(Exception):
    """A value that does not validate: ``errors`` are FastAPI-shaped dicts whose ``loc``
    is relative to the value (a tuple; the caller prefixes it)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors


def error(kind: str, msg: str, value: Any, ctx: dict[str, Any] | None = None,
          loc: tuple[Any, ...] = ()) -> dict[str, Any]:
    found = {"type": kind, "loc": loc, "msg": msg, "input": value}
    if ctx is not None:
        found["ctx"] = ctx
    return found


def fail(kind: str, msg: str, value: Any, ctx: dict[str, Any] | None = None) -> Invalid:
    return Invalid([error(kind, msg, value, ctx)])


# ---- numbers -------------------------------------------------------------------------

_I64 = 2**63  # pydantic's integers from floats (and ints read as bools) are 64-bit
INT_PARSING = "Input should be a valid integer, unable to parse string as an integer"
FLOAT_PARSING = "Input should be a valid number, unable to parse string as a number"
_INT_TEXT = re.compile(r"\s*([+-]?\d+(?:_\d+)*)(?:\.0+)?\s*", re.ASCII)
_MAX_DIGITS = sys.get_int_max_str_digits() or 4300


def to_int(value: Any) -> int:
    cls = value.__class__
    if cls is int:
        return value
    if cls is str:
        if value.isascii():
            try:
                return int(value)
            except ValueError:
                pass
            match = _INT_TEXT.fullmatch(value)  # "5.0", or more digits than int() reads
            if match is not None:
                digits = match.group(1)
                if sum(c.isdigit() for c in digits) > _MAX_DIGITS:
                    raise fail("int_parsing_size", "Unable to parse input string as an "
                               "integer, exceeded maximum size", value)
                return int(digits)
        raise fail("int_parsing", INT_PARSING, value)
    if cls is bool:
        return int(value)
    if cls is float:
        if not math.isfinite(value):
            raise fail("finite_number", "Input should be a finite number", value)
        if abs(value) >= _I64:
            raise fail("int_parsing_size", "Unable to parse input string as an integer, "
                       "exceeded maximum size", value)
        if value.is_integer():
            return int(value)
        raise fail("int_from_float",
                   "Input should be a valid integer, got a number with a fractional part", value)
    if isinstance(value, int):  # int subclasses (IntEnum...)
        return int(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    if isinstance(value, (bytes, bytearray)):
        try:
            return to_int(value.decode())
        except (Invalid, UnicodeDecodeError):
            raise fail("int_parsing", INT_PARSING, value) from None
    raise fail("int_type", "Input should be a valid integer", value)


def to_float(value: Any) -> float:
    cls = value.__class__
    if cls is float:
        return value
    if cls is str:
        text = value
        if "_" in text:  # pydantic: underscores between characters, no surrounding blanks
            if text[0] == "_" or text[-1] == "_" or "__" in text or text != text.strip():
                raise fail("float_parsing", FLOAT_PARSING, value)
            text = text.replace("_", "")
        if text.isascii():
            try:
                return float(text)
            except ValueError:
                pass
        raise fail("float_parsing", FLOAT_PARSING, value)
    if cls is int or cls is bool:
        return float(value)
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    if isinstance(value, (bytes, bytearray)):
        try:
            return to_float(value.decode())
        except (Invalid, UnicodeDecodeError):
            raise fail("float_parsing", FLOAT_PARSING, value) from None
    raise fail("float_type", "Input should be a valid number", value)


def to_decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool) or isinstance(value, int):
        result = Decimal(int(value))
    elif isinstance(value, float):
        result = Decimal(str(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise fail("decimal_parsing", "Input should be a valid decimal", value) from None
    else:
        raise fail("decimal_type",
                   "Decimal input should be an integer, float, string or Decimal object", value)
    if not result.is_finite():
        raise fail("finite_number", "Input should be a finite number", value)
    return result


# ---- text ----------------------------------------------------------------------------

def to_str(value: Any) -> str:
    if value.__class__ is str:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode()
        except UnicodeDecodeError:
            raise fail("string_unicode", "Input should be a valid string, unable to parse raw "
                       "data as a unicode string", value) from None
    raise fail("string_type", "Input should be a valid string", value)


def to_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytearray):
        return bytes(value)
    raise fail("bytes_type", "Input should be a valid bytes", value)


_TRUE = frozenset(("1", "on", "t", "true", "y", "yes"))
_FALSE = frozenset(("0", "off", "f", "false", "n", "no"))


def to_bool(value: Any) -> bool:
    if value is True or value is False:
        return value
    if isinstance(value, str):
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise fail("bool_parsing", "Input should be a valid boolean, unable to interpret input",
                   value)
    if isinstance(value, (int, float, Decimal)):
        if value == 1:
            return True
        if value == 0:
            return False
        if (isinstance(value, int) or isinstance(value, float) and value.is_integer()) and (
                -_I64 <= value < _I64):
            raise fail("bool_parsing",
                       "Input should be a valid boolean, unable to interpret input", value)
    raise fail("bool_type", "Input should be a valid boolean", value)


# ---- UUID ----------------------------------------------------------------------------

_HEX = frozenset("0123456789abcdefABCDEF-")


def _uuid_problem(text: str) -> str:
    """The uuid crate's wording (used by pydantic) for why ``text`` is not a UUID."""
    body = text
    if body.startswith("urn:uuid:"):
        body = body[9:]
    elif body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    offset = len(text) - len(body) - (1 if text.endswith("}") and text.startswith("{") else 0)
    for index, char in enumerate(body):
        if char not in _HEX:
            return f"invalid character: found `{char}` at {index + offset}"
    if "-" not in body:
        return f"invalid length: found {len(body)}"
    groups = body.split("-")
    if len(groups) != 5:
        return f"invalid group count: expected 5, found {len(groups)}"
    for number, (group, expected) in enumerate(zip(groups, (8, 4, 4, 4, 12))):
        if len(group) != expected:
            return (f"invalid group length in group {number}: expected {expected}, "
                    f"found {len(group)}")
    return "invalid format"


def to_uuid(value: Any) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            problem = _uuid_problem(value)
            raise fail("uuid_parsing", f"Input should be a valid UUID, {problem}", value,
                       {"error": problem}) from None
    if isinstance(value, bytes) and len(value) == 16:
        return uuid.UUID(bytes=value)
    raise fail("uuid_type", "UUID input should be a string, bytes or UUID object", value)


# ---- dates and times ----------------------------------------------------------------
# Accepted: RFC 3339 / ISO 8601 extended format (``T``, ``t``, ``_`` or space between date
# and time), or a Unix timestamp (seconds, or milliseconds above 2e10), as pydantic does.

_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[Tt_ ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?)?", re.ASCII)
_TIME = re.compile(r"(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?",
                   re.ASCII)
_NUMBER = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)\s*", re.ASCII)


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _date_problem(text: str) -> str:
    """speedate's wording (used by pydantic) for a bad date part."""
    if len(text) < 10:
        return "input is too short"
    if not _digits(text[:4]):
        return "invalid character in year"
    if text[4] != "-" or text[7] != "-":
        return "invalid date separator, expected `-`"
    if not _digits(text[5:7]):
        return "invalid character in month"
    if not _digits(text[8:10]):
        return "invalid character in day"
    year, month, day = int(text[:4]), int(text[5:7]), int(text[8:10])
    if not 1 <= month <= 12:
        return "month value is outside expected range of 1-12"
    try:
        date(year, month, day)
    except ValueError:
        return "day value is outside expected range"
    return ""


def _time_problem(text: str) -> str:
    if len(text) < 5:
        return "input is too short"
    if not _digits(text[:2]):
        return "invalid character in hour"
    if int(text[:2]) > 23:
        return "hour value is outside expected range of 0-23"
    if text[2] != ":":
        return "invalid time separator, expected `:`"
    if not _digits(text[3:5]):
        return "invalid character in minute"
    if int(text[3:5]) > 59:
        return "minute value is outside expected range of 0-59"
    return "invalid timezone sign"


def _tz(text: str | None) -> timezone | None:
    if text is None:
        return None
    if text in ("Z", "z"):
        return timezone.utc
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) > 2 else 0)
    return timezone(timedelta(minutes=sign * minutes))


def _micro(text: str | None) -> int:
    return 0 if not text else int((text + "00000")[:6])


_TOO_LATE = "dates after 9999 are not supported as unix timestamps"


def _from_timestamp(number: float) -> datetime | None:
    """The UTC datetime of a Unix timestamp (milliseconds above 2e10), None out of range."""
    try:
        if abs(number) > 2e10:
            offset = timedelta(milliseconds=number)
        else:
            offset = timedelta(seconds=number)
        return datetime(1970, 1, 1, tzinfo=timezone.utc) + offset
    except (OverflowError, ValueError):
        return None


def _exact_date(moment: datetime, value: Any) -> date:
    if moment.time() != time(0):
        raise fail("date_from_datetime_inexact", "Datetimes provided to dates should have zero "
                   "time - e.g. be exact dates", value)
    return moment.date()


def _parse_datetime(text: str) -> datetime | date | None:
    match = _DATETIME.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, tz = match.groups()
    try:
        if hour is None:
            return date(int(year), int(month), int(day))
        return datetime(int(year), int(month), int(day), int(hour), int(minute),
                        int(second or 0), _micro(fraction), _tz(tz))
    except ValueError:
        return None


def to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        parsed = _parse_datetime(value)
        if isinstance(parsed, datetime):
            return parsed
        if isinstance(parsed, date):
            return datetime(parsed.year, parsed.month, parsed.day)
        moment = _from_timestamp(float(value)) if _NUMBER.fullmatch(value) else None
        if moment is not None:
            return moment
        problem = _date_problem(value) or "unexpected extra characters at the end of the input"
        raise fail("datetime_from_date_parsing",
                   f"Input should be a valid datetime or date, {problem}", value,
                   {"error": problem})
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        moment = _from_timestamp(value)
        if moment is None:
            raise fail("datetime_parsing", f"Input should be a valid datetime, {_TOO_LATE}",
                       value, {"error": _TOO_LATE})
        return moment
    raise fail("datetime_type", "Input should be a valid datetime", value)


def to_date(value: Any) -> date:
    if isinstance(value, datetime):
        value = value.isoformat()
    elif isinstance(value, date):
        return value
    if isinstance(value, str):
        parsed = _parse_datetime(value)
        if isinstance(parsed, datetime):
            if parsed.time() != time(0) or parsed.utcoffset():
                raise fail("date_from_datetime_inexact", "Datetimes provided to dates should "
                           "have zero time - e.g. be exact dates", value)
            return parsed.date()
        if isinstance(parsed, date):
            return parsed
        moment = _from_timestamp(float(value)) if _NUMBER.fullmatch(value) else None
        if moment is not None:
            return _exact_date(moment, value)
        problem = _date_problem(value)
        if not problem:
            problem = "invalid datetime separator, expected `T`, `t`, `_` or space"
        raise fail("date_from_datetime_parsing",
                   f"Input should be a valid date or datetime, {problem}", value,
                   {"error": problem})
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        moment = _from_timestamp(value)
        if moment is None:
            raise fail("date_from_datetime_parsing", f"Input should be a valid date or "
                       f"datetime, {_TOO_LATE}", value, {"error": _TOO_LATE})
        return _exact_date(moment, value)
    raise fail("date_type", "Input should be a valid date", value)


def to_time(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        match = _TIME.fullmatch(value)
        if match is not None:
            hour, minute, second, fraction, tz = match.groups()
            try:
                return time(int(hour), int(minute), int(second or 0), _micro(fraction), _tz(tz))
            except ValueError:
                pass
        problem = _time_problem(value)
        raise fail("time_parsing", f"Input should be in a valid time format, {problem}", value,
                   {"error": problem})
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
        if 0 <= seconds < 86400:
            return (datetime(1970, 1, 1, tzinfo=timezone.utc)
                    + timedelta(seconds=seconds)).timetz()
        problem = "numeric times may not exceed 86,399 seconds"
        raise fail("time_parsing", f"Input should be in a valid time format, {problem}", value,
                   {"error": problem})
    raise fail("time_type", "Input should be a valid time", value)


def to_timedelta(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return timedelta(seconds=value)
        if isinstance(value, str):
            if _NUMBER.fullmatch(value):
                return timedelta(seconds=float(value))
            return msgspec.convert(value, timedelta)
    except (msgspec.ValidationError, OverflowError, ValueError):
        raise fail("time_delta_parsing", "Input should be a valid timedelta, invalid duration",
                   value, {"error": "invalid duration"}) from None
    raise fail("time_delta_type", "Input should be a valid timedelta", value)
