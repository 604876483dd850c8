"""pronghorn.datastructures: Headers, MutableHeaders, QueryParams, URL, Address, State."""

import pytest

from pronghorn.datastructures import URL, Address, Headers, MutableHeaders, QueryParams, State

# ---- Headers ---------------------------------------------------------------------------


@pytest.fixture
def headers():
    return Headers(raw=[(b"accept", b"*/*"), (b"x-dup", b"1"), (b"x-latin", b"caf\xe9"),
                        (b"x-dup", b"2")])


def test_headers_lookup_is_case_insensitive(headers):
    assert headers["Accept"] == headers["ACCEPT"] == headers.get("accept") == "*/*"
    assert "X-Dup" in headers and "x-missing" not in headers
    assert 42 not in headers
    assert headers.get("x-missing") is None
    assert headers.get("x-missing", "d") == "d"
    with pytest.raises(KeyError):
        headers["x-missing"]


def test_headers_keep_duplicates_in_order(headers):
    assert headers["x-dup"] == "1"  # the first one
    assert headers.getlist("X-DUP") == ["1", "2"]
    assert headers.getlist("x-missing") == []
    assert headers.keys() == ["accept", "x-dup", "x-latin", "x-dup"]
    assert headers.values() == ["*/*", "1", "café", "2"]
    assert headers.items() == headers.multi_items() == list(zip(headers.keys(), headers.values()))
    assert len(headers) == 4
    assert list(headers) == headers.keys()
    assert dict(headers) == {"accept": "*/*", "x-dup": "1", "x-latin": "café"}


def test_headers_decode_latin1_and_expose_raw(headers):
    assert headers["x-latin"] == "café"
    assert headers.raw[2] == (b"x-latin", b"caf\xe9")


def test_headers_from_mapping_lowercases_names():
    h = Headers({"Content-Type": "text/plain", "X-A": "é"})
    assert h.raw == [(b"content-type", b"text/plain"), (b"x-a", b"\xe9")]
    assert h["content-type"] == "text/plain"
    assert Headers().raw == [] and len(Headers()) == 0


def test_headers_reject_invalid_fields():
    with pytest.raises(ValueError, match="invalid header name"):
        Headers({"bad name": "x"})
    with pytest.raises(ValueError, match="CR, LF and NUL"):
        Headers({"x": "a\r\nset-cookie: evil"})
    with pytest.raises(ValueError):
        Headers({"x": "1"}, raw=[])


def test_headers_equality_ignores_order_but_not_duplicates():
    a = Headers(raw=[(b"a", b"1"), (b"b", b"2")])
    assert a == Headers(raw=[(b"b", b"2"), (b"a", b"1")])
    assert a != Headers(raw=[(b"a", b"1")])
    assert a != Headers(raw=[(b"a", b"1"), (b"b", b"2"), (b"b", b"2")])
    assert a != {"a": "1", "b": "2"}


def test_headers_repr():
    assert repr(Headers({"a": "1"})) == "Headers({'a': '1'})"
    assert repr(Headers(raw=[(b"a", b"1"), (b"a", b"2")])) == \
        "Headers(raw=[(b'a', b'1'), (b'a', b'2')])"


def test_headers_are_immutable(headers):
    with pytest.raises(TypeError):
        headers["x"] = "1"  # type: ignore[index]


# ---- MutableHeaders --------------------------------------------------------------------


def test_mutable_setitem_replaces_all_values():
    h = MutableHeaders(raw=[(b"a", b"1"), (b"b", b"x"), (b"a", b"2")])
    h["A"] = "3"
    assert h.raw == [(b"a", b"3"), (b"b", b"x")]
    h["new"] = "v"
    assert h.raw[-1] == (b"new", b"v")


def test_mutable_raw_is_the_live_list():
    raw = [(b"a", b"1")]
    h = MutableHeaders(raw=raw)
    h.append("Set-Cookie", "a=1")
    h.append("set-cookie", "b=2")
    assert raw is h.raw
    assert raw == [(b"a", b"1"), (b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")]


def test_mutable_delitem_setdefault_update():
    h = MutableHeaders({"a": "1"})
    h.append("a", "2")
    del h["A"]
    assert "a" not in h
    del h["missing"]  # no error, like Starlette
    assert h.setdefault("x", "1") == "1"
    assert h.setdefault("X", "2") == "1"
    h.update({"x": "3", "y": "4"})
    h.update([("z", "5")], w="6")
    assert h.items() == [("x", "3"), ("y", "4"), ("z", "5"), ("w", "6")]


def test_mutable_vary_header():
    h = MutableHeaders()
    h.add_vary_header("Accept-Encoding")
    h.add_vary_header("Origin")
    assert h["vary"] == "Accept-Encoding, Origin"


def test_mutable_rejects_injection():
    h = MutableHeaders()
    for bad in ("a\r\nb: c", "a\nb", "a\x00"):
        with pytest.raises(ValueError):
            h["x"] = bad
        with pytest.raises(ValueError):
            h.append("x", bad)
    with pytest.raises(ValueError):
        h["x y"] = "1"
    assert h.raw == []


def test_mutable_copy_and_or():
    h = Headers({"a": "1"})
    m = h.mutablecopy()
    m["b"] = "2"
    assert "b" not in h and isinstance(m, MutableHeaders)
    merged = m | {"c": "3"}
    assert merged.keys() == ["a", "b", "c"] and m.keys() == ["a", "b"]
    m |= {"a": "9"}
    assert m["a"] == "9"


# ---- QueryParams -----------------------------------------------------------------------


def test_query_params_repeats_last_value_wins():
    q = QueryParams("a=1&b=2&a=3")
    assert q["a"] == q.get("a") == "3"  # Starlette semantics
    assert q.getlist("a") == ["1", "3"]
    assert q.multi_items() == [("a", "1"), ("b", "2"), ("a", "3")]
    assert list(q.keys()) == ["a", "b"] and len(q) == 2
    assert list(q.values()) == ["3", "2"]
    assert dict(q.items()) == {"a": "3", "b": "2"}
    assert "b" in q and "c" not in q
    assert q.get("c") is None and q.getlist("c") == []
    with pytest.raises(KeyError):
        q["c"]


@pytest.mark.parametrize(("query", "items"), [
    ("", []),
    ("a=%20x+y%2B", [("a", " x y+")]),
    ("a=&b&=c", [("a", ""), ("b", ""), ("", "c")]),
    ("&&a=1&&", [("a", "1")]),
    ("%E2%9C%93=%C3%A9", [("✓", "é")]),
    ("bad=%zz%4", [("bad", "%zz%4")]),
    ("inv=%FF", [("inv", "\ufffd")]),
    ("a=1=2", [("a", "1=2")]),
])
def test_query_params_decoding(query, items):
    assert QueryParams(query).multi_items() == items
    assert QueryParams(query.encode()).multi_items() == items


def test_query_params_constructors_and_str():
    assert QueryParams([("a", 1), ("a", 2)]).getlist("a") == ["1", "2"]
    assert QueryParams({"a": "x"}, b="y").multi_items() == [("a", "x"), ("b", "y")]
    q = QueryParams("q=a b&q=&x=%26")
    assert QueryParams(q) == q
    assert str(q) == "q=a+b&q=&x=%26"
    assert QueryParams(str(q)) == q
    assert repr(QueryParams("a=1")) == "QueryParams('a=1')"
    assert QueryParams("a=1&b=2") == QueryParams("b=2&a=1")
    assert QueryParams("a=1") != QueryParams("a=1&a=1")
    assert QueryParams() == QueryParams("")


def test_query_params_have_no_field_limit_when_built_by_hand():
    assert len(QueryParams("&".join(f"k{i}=1" for i in range(5000)))) == 5000


# ---- URL ------------------------------------------------------------------------------


def test_url_components():
    u = URL("https://user:secret@Example.COM:8443/a%20b/c?x=1&y=%20#frag")
    assert (u.scheme, u.netloc, u.path, u.query, u.fragment) == (
        "https", "user:secret@Example.COM:8443", "/a%20b/c", "x=1&y=%20", "frag")
    assert (u.username, u.password, u.hostname, u.port) == ("user", "secret", "example.com", 8443)
    assert u.is_secure and not URL("http://a/").is_secure and URL("wss://a/").is_secure
    assert URL("http://a/").port is None


def test_url_ipv6():
    u = URL("http://[::1]:8000/p")
    assert (u.hostname, u.port, u.netloc) == ("::1", 8000, "[::1]:8000")
    assert str(u.replace(port=9)) == "http://[::1]:9/p"
    assert str(u.replace(hostname="fe80::2")) == "http://[fe80::2]:8000/p"


def test_url_replace():
    u = URL("http://a:1/p?q=1#f")
    assert str(u.replace(scheme="https")) == "https://a:1/p?q=1#f"
    assert str(u.replace(path="/x", query="", fragment="")) == "http://a:1/x"
    assert str(u.replace(hostname="b")) == "http://b:1/p?q=1#f"
    assert str(u.replace(port=None)) == "http://a/p?q=1#f"
    assert str(u.replace(username="u", password="p")) == "http://u:p@a:1/p?q=1#f"
    assert str(URL("http://u:p@a/").replace(username=None)) == "http://a/"
    assert str(URL(scheme="http", netloc="h", path="/p", query="a=1")) == "http://h/p?a=1"
    with pytest.raises(ValueError):
        URL("http://a/", path="/x")


def test_url_query_param_helpers():
    u = URL("http://a/p?x=1&y=2&x=3")
    assert str(u.include_query_params(x="9", z="a b")) == "http://a/p?y=2&x=9&z=a+b"
    assert str(u.replace_query_params(k="v&w")) == "http://a/p?k=v%26w"
    assert str(u.remove_query_params("x")) == "http://a/p?y=2"
    assert str(u.remove_query_params(["x", "y"])) == "http://a/p"


def test_url_equality_and_repr():
    u = URL("http://u:pw@a/p")
    assert u == "http://u:pw@a/p" and u == URL("http://u:pw@a/p") and u != "http://a/p"
    assert u != 1
    assert hash(u) == hash("http://u:pw@a/p")
    assert repr(u) == "URL('http://u:********@a/p')"
    assert repr(URL("/p")) == "URL('/p')"
    assert str(URL("/relative?a=1")) == "/relative?a=1"


# ---- Address, State ---------------------------------------------------------------------


def test_address():
    a = Address("127.0.0.1", 8000)
    assert (a.host, a.port) == a == ("127.0.0.1", 8000)
    host, port = a
    assert repr(a) == "Address(host='127.0.0.1', port=8000)"


def test_state():
    s = State()
    s.user = "ann"
    assert s.user == "ann"
    del s.user
    with pytest.raises(AttributeError, match="'State' object has no attribute 'user'"):
        s.user
    with pytest.raises(AttributeError):
        del s.user
    assert repr(State({"a": 1})) == "State({'a': 1})"
    assert not hasattr(s, "db")

