"""_core.LeanSolver: path and query parameters read in C must mean what FastAPI means.

The solver reads a path parameter or a single query parameter (str, or int
written as plain digits) itself and hands every other case to the Python
extractor. Each case below is answered by FastAPI and by pronghorn (the same
routes, tests/frameworks.py) and must get the same status and JSON — the
fast readings, the spellings that fall back to Python, and the errors.
"""

import random
from typing import Any

import pytest

from pronghorn import Pronghorn, _core
from pronghorn.requests import Request
from pronghorn.testclient import TestClient
from tests.frameworks import Pair


def routes(app: Any, fw: Any) -> None:
    @app.get("/lean/{pid}")
    def lean(pid: int, q: str, n: int = 7, s: str = "dflt"):
        return {"pid": pid, "q": q, "n": n, "s": s}

    @app.get("/text/{name}")
    def text(name: str, request: fw.Request, cafe: str = fw.Query("none", alias="caf\u00e9")):
        return {"name": name, "cafe": cafe, "same": request.path_params["name"] == name}


@pytest.fixture(scope="module")
def pair() -> Pair:
    return Pair(routes)


CASES = [
    "/lean/12345?q=hello",
    "/lean/-5?q=x",
    "/lean/+5?q=x",
    "/lean/007?q=x",
    "/lean/999999999999999999?q=x",       # 18 digits: read in C
    "/lean/9999999999999999999?q=x",      # 19 digits: read by Python
    "/lean/123456789012345678901234567890?q=x",
    "/lean/1_000?q=x",                   # pydantic's underscores: Python
    "/lean/%205%20?q=x",                 # blanks around: Python
    "/lean/5.0?q=x",
    "/lean/5.5?q=x",                     # 422 int_parsing
    "/lean/abc?q=x",
    "/lean/%D9%A1%D9%A2?q=x",            # Arabic-Indic digits: not an int for pydantic
    "/lean/-?q=x",
    "/lean/1?q=a&q=b",                   # the last value wins
    "/lean/1?q=a+b%21",                  # '+' is a space, %21 is '!'
    "/lean/1?%71=encoded-name",          # the name is percent-decoded too
    "/lean/1?q%3D=not-q&q=real",
    "/lean/1?q",                         # no '=': an empty value
    "/lean/1?q=",
    "/lean/1?q=%ff%fe",                  # invalid UTF-8: U+FFFD
    "/lean/1?q=%zz",                     # a malformed escape is kept
    "/lean/1?&&q=x&&",
    "/lean/1?Q=x",                       # names are case-sensitive: q is missing
    "/lean/1",                           # q missing: 422
    "/lean/x",                           # both errors, in order
    "/lean/1?q=x&n=42&s=given",
    "/lean/1?q=x&n=-0",
    "/lean/1?q=x&n=%2B3",
    "/lean/1?q=x&n=+3",                  # '+' decodes to a space: " 3" is 3
    "/lean/1?q=x&n=",                    # an empty int: 422
    "/lean/1?q=x&n=4&n=oops",
    "/lean/1?q=x&n=oops&n=4",
    "/text/plain",
    "/text/caf%C3%A9?caf%C3%A9=yes",     # a non-ASCII query name: Python
    "/text/%F0%9F%A6%8C",
]


@pytest.mark.parametrize("url", CASES)
def test_fast_readings_answer_like_fastapi(pair: Pair, url: str) -> None:
    pair.same("GET", url)


def test_cases_cover_successes_and_errors(pair: Pair) -> None:
    statuses = {pair.same("GET", url)[0] for url in CASES}
    assert statuses == {200, 422}


def test_random_query_strings_answer_like_fastapi(pair: Pair) -> None:
    rng = random.Random(7)
    pieces = ["q", "n", "s", "%71", "Q", "=", "&", "+", "%", "%2", "%20", "1", "-", "x", "_",
              "%ff", "%C3%A9"]
    for _ in range(300):
        query = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        pair.same("GET", f"/lean/{rng.choice(['1', '-2', 'x', '1_0'])}?{query}")


def test_more_than_1000_query_fields_is_a_400():
    app = Pronghorn()
    app.get("/lean/{pid}")(lambda pid: pid)

    @app.get("/q")
    def only_query(q: str):
        return q

    client = TestClient(app)
    crowded = "&".join(["a=1"] * 1000)
    assert client.get(f"/q?{crowded}&q=last").status_code == 400
    assert client.get(f"/q?{'&'.join(['a=1'] * 999)}&q=last").json() == "last"


def test_query_params_read_earlier_are_the_ones_used():
    """A middleware that replaced request.query_params: the parameter is read from it."""
    from pronghorn.datastructures import QueryParams

    app = Pronghorn()

    @app.middleware("http")
    async def rewrite(request, call_next):
        request.query_params = QueryParams("q=rewritten")
        return await call_next(request)

    @app.get("/q")
    def only_query(q: str):
        return q

    assert TestClient(app).get("/q?q=original").json() == "rewritten"


def test_solver_contract_outside_the_engine():
    """Called with something that is not the engine's request, every parameter goes
    through its extractor; an Invalid from one calls on_invalid."""
    from pronghorn.scalars import Invalid

    seen = []

    def extract(request):
        seen.append(request)
        return "from-python"

    def failing(request):
        raise Invalid([{"loc": ("query", "x")}])

    def on_invalid(request):
        raise LookupError(request)

    solver = _core.LeanSolver((("a", extract, ("query", "a", "str")),), ("req",), Invalid,
                              on_invalid, Request)
    assert solver("not a request") == {"a": "from-python", "req": "not a request"}
    assert seen == ["not a request"]
    failing_solver = _core.LeanSolver((("x", failing, None),), (), Invalid, on_invalid, Request)
    with pytest.raises(LookupError):
        failing_solver("r")
    with pytest.raises(ValueError):
        _core.LeanSolver((("a", extract, ("body", "a", "str")),), (), Invalid, on_invalid,
                         Request)
    with pytest.raises(TypeError):
        solver()


def test_engine_requests_are_read_in_c_for_the_common_shapes():
    """The extractor is called only for what the C reading leaves to Python."""
    from pronghorn.scalars import Invalid

    called = []

    def recording(name):
        def extract(request):
            called.append(name)
            return f"python:{name}"
        return extract

    solver = _core.LeanSolver(
        (("pid", recording("pid"), ("path", "pid", "int")),
         ("q", recording("q"), ("query", "q", "str")),
         ("n", recording("n"), ("query", "n", "int"))),
        (), Invalid, lambda request: None, Request)
    app = Pronghorn()

    @app.get("/c/{pid}")
    def read(request: Request):
        called.clear()
        return {"values": solver(request), "python": called}

    client = TestClient(app)
    assert client.get("/c/12?q=a%20b&n=-3").json() == {
        "values": {"pid": 12, "q": "a b", "n": -3}, "python": []}
    assert client.get("/c/1_2?n=3.0").json() == {
        "values": {"pid": "python:pid", "q": "python:q", "n": "python:n"},
        "python": ["pid", "q", "n"]}
