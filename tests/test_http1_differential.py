"""Differential tests: pronghorn's C request parser against h11 and httptools.

Owns: replaying third-party request corpora and generated requests through
pronghorn (`_core.parse_request` + `_core.decode_chunked`), h11 (server role)
and httptools (llhttp), and checking that they agree -- or that every place
where they do not is a documented, deliberate choice of pronghorn (or a
known pronghorn bug, marked xfail).

How to read the disagreement table (DIFFERENCES): each corpus case whose
outcome differs between pronghorn and a reference is listed with the rule
that explains it, which references disagree ("h11", "httptools", and for
gunicorn's corpus "gunicorn", i.e. the case's own expectation) and what
pronghorn does (an int is the 4xx/5xx status it rejects with; a str is how
the input ends: "done", "closed" or "incomplete"). A case that disagrees but
is not listed fails, and so does a listed case that no longer disagrees, so
the table is exactly the set of disagreements. docs/parser-differences.md
explains each rule.

Every parser's view of an input is an `Outcome`: the messages it completed
(method, target, version, headers, body) and how the input ended. Trailer
fields are dropped everywhere (pronghorn validates then discards them).
Status hints are not compared between parsers (h11's differ by design,
httptools has none); gunicorn's error classes are mapped to statuses.

Beyond the corpora: generated valid requests (all three parsers agree on
every field), generated then mutated requests (pronghorn never crashes, and
never frames a message that a reference refuses or frames differently,
except for the REFERENCE_QUIRKS, each tied to a rule), growing prefixes of
every corpus input (the server re-parses a growing buffer), the size limits,
and the pronghorn bugs found here (xfail until fixed). Hypothesis runs
derandomized with a fixed number of examples, so every run is the same.
"""

from __future__ import annotations

import functools
import re
import string
from dataclasses import dataclass
from pathlib import Path

import h11
import httptools
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pronghorn import _core

from .http1_corpus import Case, load_all, with_host

# ---- one outcome model for three parsers -----------------------------------


@dataclass(frozen=True)
class Message:
    method: bytes
    target: bytes
    version: bytes  # b"1.1"
    headers: tuple[tuple[bytes, bytes], ...]  # names lowercased, values OWS-trimmed
    body: bytes | None  # None: the parser does not report it (httptools, upgrades)

    def same(self, other: Message) -> bool:
        return (self.method, self.target, self.version, self.headers) == (
            other.method, other.target, other.version, other.headers
        ) and (self.body is None or other.body is None or self.body == other.body)


@dataclass(frozen=True)
class Outcome:
    """What a parser made of a whole input.

    end: "done" (input used up between messages), "closed" (the last message
    ends the connection: not keep-alive, an upgrade or CONNECT; later bytes
    are not HTTP/1.1 any more), "incomplete" (a message is cut short) or
    "error" (status: the parser's status hint, None for httptools).
    """

    messages: tuple[Message, ...]
    end: str
    status: int | None = None
    reason: str = ""

    def agrees(self, other: Outcome) -> bool:
        """Same messages, same end (status hints and reasons differ by design)."""
        return (
            self.end == other.end
            and len(self.messages) == len(other.messages)
            and all(a.same(b) for a, b in zip(self.messages, other.messages))
        )

    @property
    def summary(self) -> int | str:
        """What the disagreement table records: the status of a rejection, else the end."""
        return self.status if self.end == "error" else self.end


def _norm_headers(pairs) -> tuple[tuple[bytes, bytes], ...]:
    out = []
    for name, value in pairs:
        name, value = bytes(name).lower(), bytes(value).strip(b" \t")
        if name == b"transfer-encoding":  # h11 lowercases it; codings are case-insensitive
            value = value.lower()
        out.append((name, value))
    return tuple(out)


def _only_crlf(rest: bytes) -> bool:
    return rest.strip(b"\r\n") == b""


# Not exported by the binding: the head parser's "Expect other than 100-continue"
# flag, which the server answers with 417 (RFC 9110 §10.1.1).
EXPECT_OTHER = 0x08
STATUSES = {400, 413, 414, 417, 431, 501, 505}


def run_pronghorn(data: bytes, **limits) -> Outcome:
    """Drive parse_request/decode_chunked over data the way the server does."""
    msgs: list[Message] = []
    pos = 0
    chunk_limits = {"max_body": limits["max_body"]} if "max_body" in limits else {}
    while True:
        rest = data[pos:]
        try:
            r = _core.parse_request(rest, **limits)
        except _core.ProtocolError as e:
            return Outcome(tuple(msgs), "error", *e.args)
        if r is None:
            return Outcome(tuple(msgs), "done" if _only_crlf(rest) else "incomplete")
        head_len, method, target, minor, headers, kind, length, flags = r
        if flags & EXPECT_OTHER:
            return Outcome(tuple(msgs), "error", 417, "expectation failed")
        body_at = pos + head_len
        if kind == _core.BODY_LENGTH:
            if len(data) - body_at < length:
                return Outcome(tuple(msgs), "incomplete")
            body, pos = data[body_at : body_at + length], body_at + length
        elif kind == _core.BODY_CHUNKED:
            try:
                body, used, done = _core.decode_chunked(data[body_at:], **chunk_limits)
            except _core.ProtocolError as e:
                return Outcome(tuple(msgs), "error", *e.args)
            if not done:
                return Outcome(tuple(msgs), "incomplete")
            pos = body_at + used
        else:
            body, pos = b"", body_at
        msgs.append(Message(method, target, b"1.%d" % minor, _norm_headers(headers), body))
        if not flags & _core.REQ_KEEP_ALIVE or flags & _core.REQ_UPGRADE or method == b"CONNECT":
            return Outcome(tuple(msgs), "closed")


def run_h11(data: bytes) -> Outcome:
    """h11 in the server role; answers each request so the next one can be read."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=1 << 20)
    conn.receive_data(data)
    msgs: list[Message] = []
    req: h11.Request | None = None
    body = b""
    while True:
        try:
            ev = conn.next_event()
        except h11.RemoteProtocolError as e:
            return Outcome(tuple(msgs), "error", e.error_status_hint, str(e))
        if isinstance(ev, h11.Request):
            req, body = ev, b""
        elif isinstance(ev, h11.Data):
            body += bytes(ev.data)
        elif isinstance(ev, h11.EndOfMessage):
            assert req is not None
            msgs.append(
                Message(req.method, req.target, req.http_version,
                        _norm_headers(req.headers.raw_items()), body)
            )
            req = None
            if conn.their_state is not h11.DONE:  # MUST_CLOSE or MIGHT_SWITCH_PROTOCOL
                return Outcome(tuple(msgs), "closed")
            conn.send(h11.Response(status_code=200, headers=[("Content-Length", "0")]))
            conn.send(h11.EndOfMessage())
            if conn.our_state is not h11.DONE:
                return Outcome(tuple(msgs), "closed")
            conn.start_next_cycle()
        elif ev is h11.PAUSED:
            return Outcome(tuple(msgs), "closed")
        elif ev is h11.NEED_DATA:
            cut = req is not None or not _only_crlf(conn.trailing_data[0])
            return Outcome(tuple(msgs), "incomplete" if cut else "done")
        else:  # ConnectionClosed: impossible, EOF is never signalled
            raise AssertionError(ev)


class _Collector:
    """httptools protocol object: records each message as llhttp reports it."""

    def __init__(self) -> None:
        self.parser: httptools.HttpRequestParser | None = None
        self.msgs: list[Message] = []
        self.closed = False
        self.in_message = False

    def on_message_begin(self) -> None:
        self.in_message = True
        self.url, self.headers, self.body, self.in_head = b"", [], b"", True

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.in_head:  # after the head these are trailer fields: dropped, like pronghorn
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.in_head = False

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.in_message = False
        p = self.parser
        if self.closed or p is None:
            return
        # httptools tells llhttp to skip the body of an upgrade request: unknown here.
        body = None if p.should_upgrade() else self.body
        self.msgs.append(
            Message(p.get_method(), self.url, p.get_http_version().encode(),
                    _norm_headers(self.headers), body)
        )
        if not p.should_keep_alive() or p.should_upgrade():
            self.closed = True


def run_httptools(data: bytes) -> Outcome:
    proto = _Collector()
    proto.parser = httptools.HttpRequestParser(proto)
    try:
        proto.parser.feed_data(data)
    except httptools.HttpParserUpgrade:
        proto.closed = True
    except httptools.HttpParserError as e:
        if not proto.closed:  # llhttp also refuses bytes after a closing message: not ours
            return Outcome(tuple(proto.msgs), "error", None, f"{type(e).__name__}: {e}")
    if proto.closed:
        return Outcome(tuple(proto.msgs), "closed")
    return Outcome(tuple(proto.msgs), "incomplete" if proto.in_message else "done")


REFERENCES = {"h11": run_h11, "httptools": run_httptools}

# ---- the corpora -----------------------------------------------------------

CASES = load_all()
CASES_BY_ID = {c.id: c for c in CASES}

# gunicorn error class -> the status a server sends (the corpus README's mapping).
GUNICORN_STATUS = {
    "LimitRequestLine": 414,
    "LimitRequestHeaders": 431,
    "UnsupportedTransferCoding": 501,
}
INJECTED_HOST = (b"host", b"example.com")


@functools.cache
def corpus_input(case_id: str) -> bytes:
    """The case's bytes, with a Host field after its first HTTP/1.1 request-line if it has none.

    llhttp's and gunicorn's corpora mostly omit Host, which RFC 9112 §3.2
    requires of HTTP/1.1 requests (h11 and pronghorn enforce it, llhttp and
    gunicorn do not). Adding it lets each case test what it was written for;
    test_hostless_corpus_request_is_rejected covers the original bytes.
    """
    return with_host(CASES_BY_ID[case_id].data)


def gunicorn_agrees(case: Case, p: Outcome, injected: bool) -> bool:
    """Does pronghorn's outcome match what the gunicorn case says?"""
    if not case.valid:
        return p.end == "error" and p.status == GUNICORN_STATUS.get(case.error, 400)
    if p.end not in ("done", "closed") or len(p.messages) != len(case.messages):
        return False
    for got, want in zip(p.messages, case.messages):
        headers = tuple(h for h in got.headers if not (injected and h == INJECTED_HOST))
        if (got.method, got.target, got.version, headers, got.body) != (
            want.method, want.target, want.version, want.headers, want.body
        ):
            return False
    return True


def disagreements(case: Case) -> tuple[Outcome, set[str]]:
    """pronghorn's outcome, and who disagrees with it."""
    data = corpus_input(case.id)
    p = run_pronghorn(data)
    who = {name for name, run in REFERENCES.items() if not p.agrees(run(data))}
    if case.id.startswith("gunicorn/") and not gunicorn_agrees(case, p, data != case.data):
        who.add("gunicorn")
    return p, who


# ---- the disagreement table --------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """Why pronghorn and a reference part ways. bug=True: pronghorn is wrong (xfail)."""

    why: str
    bug: bool = False


# fmt: off
MISSING_HOST = Rule("HTTP/1.1 request without Host -> 400 (RFC 9112 §3.2 MUST); only the first "
                    "request of a corpus case gets a Host added, later pipelined ones have none; "
                    "llhttp and gunicorn do not check")
DUPLICATE_HOST = Rule("two Host field lines -> 400 (RFC 9112 §3.2 MUST); llhttp takes both")
LEADING_CRLF = Rule("empty lines before a request-line are skipped (RFC 9112 §2.2 SHOULD ignore "
                    "at least one); h11 refuses them")
OBS_FOLD = Rule("a field line starting with SP/HTAB (obs-fold, or whitespace after the "
                "request-line) -> 400 (RFC 9112 §5.2 lets a server reject it; §2.2); h11 unfolds "
                "it, gunicorn only with permit_obsolete_folding")
BARE_LF = Rule("a line ended by LF alone -> 400 (RFC 9112 §2.2 MAY accept it; refusing it shuts a "
               "smuggling vector); h11 accepts it")
BARE_CR = Rule("a CR not followed by LF -> 400 at that byte (RFC 9112 §2.2: reject or replace "
               "with SP); h11 is still waiting for a line end")
FAIL_FAST = Rule("rejected at the first byte that makes the head invalid (here: the field that "
                 "breaks the rule); h11 checks a head only once its blank line has arrived")
DUPLICATE_CL = Rule("a second Content-Length field line (even with the same value) or a list "
                    "value '5, 5' -> 400 (RFC 9112 §6.3 item 5 allows rejecting; smuggling "
                    "vector); h11 accepts equal values")
CL_AND_TE = Rule("Content-Length together with Transfer-Encoding -> 400 (RFC 9112 §6.3 item 3: "
                 "ought to be handled as an error); h11 lets Transfer-Encoding win")
TE_CODINGS = Rule("only a single final 'chunked' is decoded: another coding -> 501 (RFC 9112 "
                  "§6.1 SHOULD), chunked not last or twice -> 400 (§6.3); llhttp passes "
                  "undecoded bodies on, gunicorn's corpus expects other statuses")
TE_HTTP10 = Rule("Transfer-Encoding in an HTTP/1.0 request -> 400 (RFC 9112 §6.1: its framing "
                 "is faulty); the references decode it")
CHUNK_LINE = Rule("chunk-size lines follow RFC 9112 §7.1.1 exactly: whitespace only before ';', a "
                  "name after every ';', balanced quotes, no bare CR; h11 ignores what follows "
                  "the size")
CHUNK_EXT_BWS = Rule("BWS around ';' and '=' in chunk extensions is accepted (RFC 9112 §7.1.1 "
                     "grammar); llhttp refuses it")
FORBIDDEN_TRAILER = Rule("fields that must not be trailers (Host, Content-Length, "
                         "Transfer-Encoding, ...; RFC 9110 §6.5.1) -> 400; h11/llhttp drop them")
CTL_IN_VALUE = Rule("control characters in a field value -> 400 (RFC 9110 §5.5 field-value); "
                    "h11 accepts BEL and DEL")
TOO_MANY_FIELDS = Rule("more than max_headers (100) field lines -> 431 (RFC 6585 §5); the "
                       "references have no count limit")
VERSION = Rule("HTTP versions other than 1.0 and 1.1 -> 505 (RFC 9110 §15.6.6); h11 accepts any "
               "digits, llhttp serves 2.0 as 1.x")
VERSION_AT_EOL = Rule("the version is judged when the request-line ends (its CR decides between "
                      "400 and 505), so 'HTTP/5.6' with nothing after it is still incomplete; "
                      "llhttp refuses at the last digit")
NO_HTTP09 = Rule("a request-line without HTTP-version (HTTP/0.9) -> 400; llhttp accepts it")
NOT_HTTP = Rule("ICE/ and RTSP/ request-lines -> 400 (not HTTP); llhttp takes them for some methods")
UNKNOWN_METHOD = Rule("any token is a method (RFC 9110 §9.1; unknown ones are the application's "
                      "501/405), in any case; llhttp knows a fixed list")
ASTERISK_FORM = Rule("'*' is a target for OPTIONS only (RFC 9112 §3.2.4) -> 400 otherwise; the "
                     "references take it with any method")
TARGET_FORM = Rule("the target must be origin-form, absolute-form with an authority "
                   "(scheme://host...), authority-form with CONNECT or '*' (RFC 9112 §3.2): "
                   "relative paths, host:port without CONNECT, bad authorities -> 400; h11 "
                   "accepts any visible characters")
CONNECT_CONTENT = Rule("CONNECT with Content-Length/Transfer-Encoding -> 400 (RFC 9110 §9.3.6: "
                       "CONNECT has no content)")
NON_ASCII_TARGET = Rule("bytes outside 0x21-0x7E in the request-target -> 400 (RFC 9112 §3.2, "
                        "RFC 3986 §2); gunicorn's corpus accepts raw UTF-8")
TE_TRAILING_HTAB = Rule("HTAB in the OWS after a Transfer-Encoding value is whitespace like SP "
                        "(RFC 9112 §5, RFC 9110 §5.6.3); llhttp refuses it")
HTTP10_KEEPALIVE = Rule("an HTTP/1.0 request with Connection: keep-alive keeps the connection "
                        "(RFC 9112 §9.3, Appendix C.2.2); h11 always closes after HTTP/1.0")
UPGRADE_NEEDS_OPTION = Rule("an Upgrade field counts only with the 'upgrade' Connection option "
                            "(RFC 9110 §7.8); h11 switches protocols on Upgrade alone")
TE_EMPTY_ELEMENT = Rule("empty elements of the Transfer-Encoding list are ignored, so 'chunked,' "
                        "is chunked (RFC 9110 §5.6.1: a recipient MUST ignore empty elements); "
                        "h11 answers 501 and llhttp 400 -- the one framing field where pronghorn "
                        "takes more than both references")
SCHEME_CHARS = Rule("an absolute-form scheme may hold digits, '+', '-' and '.' after its first "
                    "letter (RFC 3986 §3.1); llhttp takes letters only")
EXPECTATION = Rule("an Expect other than 100-continue in HTTP/1.1 -> 417 (RFC 9110 §10.1.1 "
                   "MAY); the references ignore it")
GUNICORN_OPTION = Rule("holds only with a gunicorn leniency option (proxy_protocol, "
                       "strip_header_spaces, casefold_http_method, header_map); pronghorn has "
                       "none of them")
GUNICORN_LIMIT = Rule("a gunicorn size limit (4094-byte request-line, 8190-byte field, or one the "
                      "case sets) that pronghorn's defaults (8190-byte request-line, 64 KiB head, "
                      "100 fields) do not share; see test_gunicorn_limit_cases")
GUNICORN_APP = Rule("refused by gunicorn above the parser (WSGI mapping of names with '_', "
                    "X-Forwarded-* trust, a repeated Content-Type); pronghorn parses it and "
                    "leaves that to the application")
GUNICORN_EOF = Rule("the input stops before the message does; a parser can only say incomplete "
                    "(gunicorn's runner treats EOF as the end, the server times out)")

# case id: (rule, who disagrees with pronghorn, what pronghorn does)
DIFFERENCES: dict[str, tuple[Rule, str, int | str]] = {
    "llhttp/connection.md#restarting-when-keep-alive-is-explicitly": (MISSING_HOST, "httptools", 400),
    "llhttp/connection.md#crlf-between-requests-implicit-keep-alive": (LEADING_CRLF, "h11", "incomplete"),
    "llhttp/connection.md#multiple-tokens-with-folding": (OBS_FOLD, "h11", 400),
    "llhttp/connection.md#multiple-tokens-with-folding-lws-and-crlf": (OBS_FOLD, "h11", 400),
    "llhttp/content-length.md#error-on-content-length-overflow": (FAIL_FAST, "h11", 413),
    "llhttp/content-length.md#error-on-duplicate-content-length": (FAIL_FAST, "h11", 400),
    "llhttp/content-length.md#missing-crlf-crlf-before-body": (BARE_CR, "h11", 400),
    "llhttp/content-length.md#missing-crlf-crlf-before-body-lenient": (BARE_CR, "h11", 400),
    "llhttp/invalid.md#http-protocol-and-announce-method": (UNKNOWN_METHOD, "httptools", "closed"),
    "llhttp/invalid.md#headers-separated-by-lf": (BARE_LF, "h11", 400),
    "llhttp/invalid.md#headers-separated-by-dummy-characters": (BARE_CR, "h11", 400),
    "llhttp/invalid.md#headers-separated-by-dummy-characters-lenient": (BARE_CR, "h11", 400),
    "llhttp/invalid.md#empty-headers-separated-by-lf": (BARE_LF, "h11", 400),
    "llhttp/invalid.md#invalid-method": (UNKNOWN_METHOD, "httptools", "done"),
    "llhttp/invalid.md#missing-cr-between-headers": (BARE_LF, "h11", 400),
    "llhttp/invalid.md#invalid-http-version": (VERSION_AT_EOL, "httptools", "incomplete"),
    "llhttp/invalid.md#invalid-space-after-start-line": (OBS_FOLD, "h11", 400),
    "llhttp/invalid.md#spaces-before-headers": (OBS_FOLD, "h11", 400),
    "llhttp/invalid.md#spaces-before-headers-lenient": (OBS_FOLD, "h11", 400),
    "llhttp/lenient-header-value-relaxed.md#lf-in-header-value-should-be-rejected-even-with-relaxed-flag": (BARE_LF, "h11", 400),
    "llhttp/lenient-header-value-relaxed.md#space-after-start-line-must-still-fail": (OBS_FOLD, "h11", 400),
    "llhttp/lenient-version.md#invalid-http-version-lenient": (VERSION, "h11", 505),
    "llhttp/method.md#connect-with-body": (CONNECT_CONTENT, "h11 httptools", 400),
    "llhttp/method.md#m-search-request": (ASTERISK_FORM, "h11 httptools", 400),
    "llhttp/method.md#source-request-with-ice": (NOT_HTTP, "httptools", 400),
    "llhttp/method.md#options-request-with-rtsp": (NOT_HTTP, "httptools", 400),
    "llhttp/method.md#announce-request-with-rtsp": (NOT_HTTP, "httptools", 400),
    "llhttp/method.md#pri-request-http2": (ASTERISK_FORM, "h11", 400),
    "llhttp/pipelining.md#should-parse-multiple-events": (MISSING_HOST, "httptools", 400),
    "llhttp/sample.md#prefix-newline": (LEADING_CRLF, "h11", "done"),
    "llhttp/sample.md#no-http-version": (NO_HTTP09, "httptools", 400),
    "llhttp/sample.md#line-folding-in-header-value-with-crlf": (OBS_FOLD, "h11", 400),
    "llhttp/sample.md#line-folding-in-header-value-with-lf": (BARE_LF, "h11", 400),
    "llhttp/sample.md#no-lf-after-cr": (BARE_CR, "h11", 400),
    "llhttp/sample.md#no-lf-after-cr-lenient": (BARE_CR, "h11", 400),
    "llhttp/sample.md#request-starting-with-crlf": (LEADING_CRLF, "h11", "done"),
    "llhttp/sample.md#x-ssl-nonsense": (OBS_FOLD, "h11", 400),
    "llhttp/transfer-encoding.md#no-extension-after-semicolon": (CHUNK_LINE, "h11", 400),
    "llhttp/transfer-encoding.md#unbalanced-chunk-extensions-quoting": (CHUNK_LINE, "h11", 400),
    "llhttp/transfer-encoding.md#post-with-chunked-as-last-transfer-encoding": (TE_CODINGS, "httptools", 501),
    "llhttp/transfer-encoding.md#post-with-chunked-as-last-transfer-encoding-multiple-headers": (TE_CODINGS, "httptools", 501),
    "llhttp/transfer-encoding.md#space-after-chunk-header": (CHUNK_LINE, "h11", 400),
    "llhttp/transfer-encoding.md#space-after-chunk-header-lenient": (CHUNK_LINE, "h11", 400),
    "llhttp/uri.md#host-terminated-by-a-query-string": (LEADING_CRLF, "h11", "done"),
    "gunicorn/valid/009": (TE_CODINGS, "gunicorn", 501),
    "gunicorn/valid/013": (CHUNK_EXT_BWS, "httptools", "done"),
    "gunicorn/valid/018": (MISSING_HOST, "gunicorn httptools", 400),
    "gunicorn/valid/022": (MISSING_HOST, "gunicorn h11 httptools", 400),
    "gunicorn/valid/023": (MISSING_HOST, "gunicorn httptools", 400),
    "gunicorn/valid/025": (TE_CODINGS, "gunicorn httptools", 501),
    "gunicorn/valid/025_line": (TE_CODINGS, "gunicorn httptools", 501),
    "gunicorn/valid/027": (NON_ASCII_TARGET, "gunicorn", 400),
    "gunicorn/valid/028": (GUNICORN_OPTION, "gunicorn", 400),
    "gunicorn/valid/029": (TE_CODINGS, "gunicorn httptools", 501),
    "gunicorn/valid/030": (TE_CODINGS, "gunicorn httptools", 501),
    "gunicorn/valid/031": (UNKNOWN_METHOD, "httptools", "done"),
    "gunicorn/valid/031compat": (GUNICORN_OPTION, "gunicorn httptools", "done"),
    "gunicorn/valid/031compat2": (UNKNOWN_METHOD, "httptools", "done"),
    "gunicorn/valid/040": (GUNICORN_APP, "gunicorn", "closed"),
    "gunicorn/valid/099": (GUNICORN_EOF, "gunicorn", "incomplete"),
    "gunicorn/valid/compat_obs_fold": (OBS_FOLD, "gunicorn h11", 400),
    "gunicorn/valid/compat_obs_fold_huge": (OBS_FOLD, "gunicorn h11", 400),
    "gunicorn/valid/pp_01": (GUNICORN_OPTION, "gunicorn", 400),
    "gunicorn/valid/pp_02": (GUNICORN_OPTION, "gunicorn", 400),
    "gunicorn/valid/pp_04": (GUNICORN_OPTION, "gunicorn", 400),
    "gunicorn/valid/pp_05": (GUNICORN_OPTION, "gunicorn", 400),
    "gunicorn/valid/rfc9112_smuggle_gzip_chunked_01": (TE_CODINGS, "gunicorn httptools", 501),
    "gunicorn/valid/rfc9112_smuggle_te_identity_chunked_01": (TE_CODINGS, "gunicorn httptools", 501),
    "gunicorn/invalid/001": (GUNICORN_EOF, "gunicorn", "incomplete"),
    "gunicorn/invalid/003c": (UNKNOWN_METHOD, "gunicorn httptools", "done"),
    "gunicorn/invalid/006": (GUNICORN_LIMIT, "gunicorn", "closed"),
    "gunicorn/invalid/007": (GUNICORN_LIMIT, "gunicorn", "closed"),
    "gunicorn/invalid/008": (GUNICORN_LIMIT, "gunicorn", "closed"),
    "gunicorn/invalid/009": (TOO_MANY_FIELDS, "h11 httptools", 431),
    "gunicorn/invalid/010": (GUNICORN_LIMIT, "gunicorn", "done"),
    "gunicorn/invalid/011": (GUNICORN_LIMIT, "gunicorn", "done"),
    "gunicorn/invalid/012": (GUNICORN_LIMIT, "gunicorn", "done"),
    "gunicorn/invalid/013": (OBS_FOLD, "gunicorn h11", 400),
    "gunicorn/invalid/016": (TARGET_FORM, "h11 httptools", 400),
    "gunicorn/invalid/017": (GUNICORN_LIMIT, "gunicorn", "done"),
    "gunicorn/invalid/019": (GUNICORN_APP, "gunicorn", "done"),
    "gunicorn/invalid/040": (GUNICORN_APP, "gunicorn", "closed"),
    "gunicorn/invalid/041": (GUNICORN_APP, "gunicorn", "done"),
    "gunicorn/invalid/042": (DUPLICATE_HOST, "httptools", 400),
    "gunicorn/invalid/chunked_03": (TE_CODINGS, "gunicorn", 501),
    "gunicorn/invalid/chunked_04": (TE_CODINGS, "gunicorn", 501),
    "gunicorn/invalid/chunked_05": (TE_HTTP10, "h11 httptools", 400),
    "gunicorn/invalid/chunked_07": (GUNICORN_APP, "gunicorn", "done"),
    "gunicorn/invalid/chunked_09": (CHUNK_LINE, "h11", 400),
    "gunicorn/invalid/chunked_14": (CHUNK_LINE, "h11", 400),
    "gunicorn/invalid/limit_header_default_01": (GUNICORN_LIMIT, "gunicorn", "closed"),
    "gunicorn/invalid/obs_fold_01": (OBS_FOLD, "h11", 400),
    "gunicorn/invalid/pp_01": (FAIL_FAST, "h11", 400),
    "gunicorn/invalid/pp_02": (FAIL_FAST, "h11", 400),
    "gunicorn/invalid/pp_03": (FAIL_FAST, "h11", 400),
    "gunicorn/invalid/rfc9110_field_value_ctl_bel_01": (CTL_IN_VALUE, "h11", 400),
    "gunicorn/invalid/rfc9110_field_value_ctl_del_01": (CTL_IN_VALUE, "h11", 400),
    "gunicorn/invalid/rfc9110_trailer_forbidden_cl_01": (FORBIDDEN_TRAILER, "h11", 400),
    "gunicorn/invalid/rfc9110_trailer_forbidden_host_01": (FORBIDDEN_TRAILER, "h11 httptools", 400),
    "gunicorn/invalid/rfc9110_trailer_forbidden_te_01": (FORBIDDEN_TRAILER, "h11", 400),
    "gunicorn/invalid/rfc9112_chunked_missing_final_crlf_01": (GUNICORN_EOF, "gunicorn", "incomplete"),
    "gunicorn/invalid/rfc9112_smuggle_cl_list_form_01": (DUPLICATE_CL, "h11", 400),
    "gunicorn/invalid/rfc9112_smuggle_cl_te_chunked_01": (CL_AND_TE, "h11", 400),
    "gunicorn/invalid/rfc9112_target_asterisk_non_options_01": (ASTERISK_FORM, "h11 httptools", 400),
    "gunicorn/invalid/rfc9112_target_authority_non_connect_01": (TARGET_FORM, "h11", 400),
    "gunicorn/invalid/rfc9112_target_relative_01": (TARGET_FORM, "h11", 400),
    "gunicorn/invalid/version_02": (VERSION, "gunicorn h11 httptools", 505),
}
# fmt: on


def _corpus_param(case: Case):
    entry = DIFFERENCES.get(case.id)
    marks = []
    if entry is not None and entry[0].bug:
        marks.append(pytest.mark.xfail(strict=True, reason=entry[0].why))
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_corpus_param(c) for c in CASES])
def test_corpus_case(case: Case):
    """pronghorn agrees with h11, httptools and the corpus, or the table says why not."""
    p, who = disagreements(case)
    entry = DIFFERENCES.get(case.id)
    if entry is None:
        assert who == set(), f"new disagreement with {sorted(who)}: pronghorn {p}"
        return
    rule, listed, expected = entry
    assert who == set(listed.split()), f"{rule.why}\npronghorn: {p}"
    assert p.summary == expected, f"{rule.why}\npronghorn: {p}"
    if p.end == "error":
        assert p.status in STATUSES


def test_difference_table_names_corpus_cases():
    assert set(DIFFERENCES) <= set(CASES_BY_ID)
    assert len(CASES) > 250  # both corpora were found and parsed


HOSTLESS = [c for c in CASES if corpus_input(c.id) != c.data]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in HOSTLESS])
def test_hostless_corpus_request_is_rejected(case: Case):
    """The original bytes (no Host) are refused like h11 does (MISSING_HOST), unless
    something earlier in the head is already wrong -- then adding Host changes nothing."""
    p = run_pronghorn(case.data)
    assert p.end in ("error", "incomplete"), p
    if p.reason == "missing Host":
        assert p.status == 400
        assert run_h11(case.data).end == "error"
    else:
        fixed = run_pronghorn(corpus_input(case.id))
        assert (p.end, p.status, p.reason) == (fixed.end, fixed.status, fixed.reason)


# One small input per rule that the corpora do not (or not only) show, so that the
# rules the generated tests rely on are checked to be real: (rule, input, what
# pronghorn does, which references disagree).
RULE_EXAMPLES = {
    "LEADING_CRLF": (LEADING_CRLF, b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "done", "h11"),
    "HTTP10_KEEPALIVE": (
        HTTP10_KEEPALIVE,
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n", "closed", "h11"),
    "UPGRADE_NEEDS_OPTION": (
        UPGRADE_NEEDS_OPTION,
        b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "done", "h11"),
    "UNKNOWN_METHOD": (UNKNOWN_METHOD, b"FOO / HTTP/1.1\r\nHost: a\r\n\r\n", "done", "httptools"),
    "TE_TRAILING_HTAB": (
        TE_TRAILING_HTAB,
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\t\r\n\r\n0\r\n\r\n", "done",
        "httptools"),
    "CHUNK_EXT_BWS": (
        CHUNK_EXT_BWS,
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1 ; a = b\r\nx\r\n0\r\n\r\n",
        "done", "h11 httptools"),
    "TE_EMPTY_ELEMENT": (
        TE_EMPTY_ELEMENT,
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n0\r\n\r\n", "done",
        "h11 httptools"),
    "SCHEME_CHARS": (SCHEME_CHARS, b"GET h2t+p://a/ HTTP/1.1\r\nHost: a\r\n\r\n", "done", "httptools"),
    "DUPLICATE_CL": (
        DUPLICATE_CL,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400, "h11"),
    "TE_CODINGS": (  # identity has not been a transfer coding since RFC 7230
        TE_CODINGS, b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 501, ""),
    "EXPECTATION": (
        EXPECTATION, b"GET / HTTP/1.1\r\nHost: a\r\nExpect: x\r\n\r\n", 417, "h11 httptools"),
}


@pytest.mark.parametrize("name", list(RULE_EXAMPLES))
def test_rule_example(name: str):
    rule, data, expected, listed = RULE_EXAMPLES[name]
    p = run_pronghorn(data)
    assert p.summary == expected, (rule.why, p)
    who = {n for n, run in REFERENCES.items() if not p.agrees(run(data))}
    assert who == set(listed.split()), rule.why


def test_every_rule_is_documented():
    """docs/parser-differences.md has a section per rule of this file."""
    doc = (Path(__file__).parent.parent / "docs" / "parser-differences.md").read_text()
    names = {n for n, v in globals().items() if isinstance(v, Rule)}
    assert names == set(re.findall(r"^### ([A-Z0-9_]+)$", doc, re.MULTILINE))


# ---- generated requests --------------------------------------------------------

TCHAR = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
PCHAR = string.ascii_letters + string.digits + "-._~" + "!$&'()*+,;=" + ":@"
VCHAR_OBS = bytes([*range(0x21, 0x7F), *range(0x80, 0x100)])
QDTEXT = [c for c in string.printable if c not in '"\\\r\n\x0b\x0c']
# llhttp refuses methods outside its own table (UNKNOWN_METHOD); these it knows.
LLHTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE",
                  "PROPFIND", "MKCOL", "LOCK", "REPORT", "SEARCH", "PURGE", "QUERY"]
# Fields with protocol meaning: generated deliberately, never by chance.
SPECIAL_FIELDS = {"host", "content-length", "transfer-encoding", "connection", "upgrade",
                  "expect", "te", "trailer", "keep-alive", "proxy-connection"}
FORBIDDEN_TRAILERS = SPECIAL_FIELDS | {
    "authorization", "cache-control", "content-encoding", "content-range", "cookie",
    "max-forwards", "pragma", "proxy-authorization", "range"}


def _over(alphabet: bytes, min_size: int = 0, max_size: int = 12) -> st.SearchStrategy[bytes]:
    """Byte strings over alphabet, drawn as one binary blob (much faster than per-char draws)."""
    table = bytes(alphabet[i % len(alphabet)] for i in range(256))
    return st.binary(min_size=min_size, max_size=max_size).map(lambda b: b.translate(table))


def _with_pct_escapes(blob: bytes, alphabet: bytes) -> bytes:
    """Each byte becomes a char of alphabet, or (1 in 8) a percent-escape."""
    out = []
    for b in blob:
        if b >= 224:
            out.append(("%%%02x" if b & 1 else "%%%02X") % ((b * 37) & 0xFF))
        else:
            out.append(chr(alphabet[b % len(alphabet)]))
    return "".join(out).encode()


token = _over(TCHAR.encode(), 1, 10)
ows = st.sampled_from([b"", b"", b" ", b"  ", b"\t", b" \t"])
pchars = st.binary(max_size=8).map(lambda b: _with_pct_escapes(b, PCHAR.encode()))
path = st.lists(pchars, min_size=1, max_size=4).map(lambda segs: b"/" + b"/".join(segs))
query = st.binary(max_size=12).map(lambda b: _with_pct_escapes(b, (PCHAR + "/?").encode()))
label = _over((string.ascii_lowercase + string.digits).encode(), 1, 8)
port = st.integers(1, 65535).map(lambda n: b":%d" % n)
host = st.tuples(
    st.lists(label, min_size=1, max_size=3).map(b".".join)
    | st.just(b"127.0.0.1") | st.just(b"[::1]"),
    st.just(b"") | port,
).map(b"".join)
field_value = _over(VCHAR_OBS + b" \t", 0, 20).map(lambda v: v.strip(b" \t"))
quoted_text = st.binary(max_size=6).map(lambda b: "".join(
    ("\\" if x & 1 else "") + QDTEXT[(x >> 1) % len(QDTEXT)] for x in b).encode())


@st.composite
def target(draw, method: bytes) -> bytes:
    if method == b"OPTIONS" and draw(st.integers(0, 4)) == 0:
        return b"*"
    t = draw(path)
    if draw(st.booleans()):
        t += b"?" + draw(query)
    if draw(st.integers(0, 4)) == 0:
        t = b"http://" + draw(host) + t
    return t


@st.composite
def chunked_body(draw) -> tuple[bytes, bytes]:
    """(wire bytes, decoded body) of a chunked body with extensions and trailers."""

    def size_line(n: int) -> bytes:
        digits = draw(st.integers(0, 2)) * "0" + format(n, "x")
        if draw(st.booleans()):
            digits = digits.upper()
        exts = b""
        for _ in range(draw(st.integers(0, 2))):
            exts += b";" + draw(token)
            kind = draw(st.integers(0, 2))
            if kind == 1:
                exts += b"=" + draw(token)
            elif kind == 2:
                exts += b'="' + draw(quoted_text) + b'"'
        return digits.encode() + exts + b"\r\n"

    chunks = draw(st.lists(st.binary(min_size=1, max_size=16), max_size=4))
    wire = b"".join(size_line(len(c)) + c + b"\r\n" for c in chunks) + size_line(0)
    names = token.filter(lambda n: n.lower().decode() not in FORBIDDEN_TRAILERS)
    for _ in range(draw(st.integers(0, 2))):
        wire += draw(names) + b":" + draw(ows) + draw(field_value) + b"\r\n"
    return wire + b"\r\n", b"".join(chunks)


@dataclass(frozen=True)
class GenRequest:
    wire: bytes
    method: bytes
    target: bytes
    minor: int
    headers: tuple[tuple[bytes, bytes], ...]  # exactly as parse_request must report them
    body_kind: int
    body: bytes
    closes: bool
    expect_continue: bool


@st.composite
def request(draw, last: bool, known_method: bool = True) -> GenRequest:
    if known_method:
        method = draw(st.sampled_from(LLHTTP_METHODS)).encode()
    else:
        method = draw(token.filter(lambda m: m not in (b"CONNECT", b"PRI")))
    minor = draw(st.sampled_from([1, 1, 1, 0])) if last else 1
    fields = [(n, draw(field_value)) for n in draw(st.lists(
        token.filter(lambda n: n.lower().decode() not in SPECIAL_FIELDS), max_size=5))]
    special = []
    if minor == 1 or draw(st.booleans()):
        special.append((draw(st.sampled_from([b"Host", b"host", b"HOST"])), draw(host)))
    kinds = [_core.BODY_NONE, _core.BODY_LENGTH] + ([_core.BODY_CHUNKED] if minor == 1 else [])
    kind = draw(st.sampled_from(kinds))
    body, tail = b"", b""
    if kind == _core.BODY_LENGTH:
        body = draw(st.binary(max_size=40))
        digits = draw(st.integers(0, 2)) * "0" + str(len(body))
        special.append((b"Content-Length", digits.encode()))
        if not body:
            kind = _core.BODY_NONE  # Content-Length: 0 is no body
        tail = body
    elif kind == _core.BODY_CHUNKED:
        tail, body = draw(chunked_body())
        special.append((draw(st.sampled_from([b"Transfer-Encoding", b"transfer-encoding"])),
                        draw(st.sampled_from([b"chunked", b"Chunked"]))))
    closes = minor == 0
    if minor == 1 and last and draw(st.booleans()):
        special.append((b"Connection", b"close"))
        closes = True
    elif minor == 1 and draw(st.booleans()):
        special.append((b"Connection", b"keep-alive"))
    expect = minor == 1 and draw(st.integers(0, 4)) == 0
    if expect:
        special.append((b"Expect", b"100-continue"))
    for field in special:
        fields.insert(draw(st.integers(0, len(fields))), field)
    # llhttp refuses HTAB after a Transfer-Encoding value (TE_TRAILING_HTAB): spaces only there.
    lines = [n + b":" + draw(ows) + v
             + (draw(ows).replace(b"\t", b" ") if n.lower() == b"transfer-encoding" else draw(ows))
             + b"\r\n" for n, v in fields]
    t = draw(target(method))
    wire = b"%s %s HTTP/1.%d\r\n%s\r\n%s" % (method, t, minor, b"".join(lines), tail)
    return GenRequest(wire, method, t, minor, tuple(fields), kind, body, closes, expect)


@st.composite
def pipeline(draw, known_methods: bool = True) -> list[GenRequest]:
    n = draw(st.integers(1, 3))
    return [draw(request(last=i == n - 1, known_method=known_methods)) for i in range(n)]


GENERATED = settings(
    max_examples=300, derandomize=True, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _check_against_generator(reqs: list[GenRequest]) -> None:
    """pronghorn reports exactly what was generated (names as sent, values trimmed)."""
    for r in reqs:
        got = _core.parse_request(r.wire)
        assert got is not None
        head_len, method, target_, minor, headers, kind, length, flags = got
        assert (method, target_, minor, kind) == (r.method, r.target, r.minor, r.body_kind)
        assert tuple(headers) == r.headers
        if kind == _core.BODY_LENGTH:
            assert length == len(r.body) == len(r.wire) - head_len
        elif kind == _core.BODY_CHUNKED:
            body, used, done = _core.decode_chunked(r.wire[head_len:])
            assert (body, used, done) == (r.body, len(r.wire) - head_len, True)
        assert bool(flags & _core.REQ_KEEP_ALIVE) == (not r.closes)
        assert bool(flags & _core.REQ_EXPECT_CONTINUE) == r.expect_continue


@GENERATED
@given(pipeline())
def test_generated_requests_agree(reqs: list[GenRequest]):
    """Valid requests: all three parsers accept and agree on every field and body."""
    _check_against_generator(reqs)
    wire = b"".join(r.wire for r in reqs)
    p = run_pronghorn(wire)
    assert p.end == ("closed" if reqs[-1].closes else "done")
    assert [m.body for m in p.messages] == [r.body for r in reqs]
    for name, run in REFERENCES.items():
        r = run(wire)
        assert p.agrees(r), f"{name}: {r}\npronghorn: {p}"


@GENERATED
@given(pipeline(known_methods=False))
def test_generated_requests_with_any_token_method(reqs: list[GenRequest]):
    """Any token is a method: pronghorn and h11 agree; llhttp refuses the ones it does
    not know (UNKNOWN_METHOD) and otherwise agrees too."""
    _check_against_generator(reqs)
    wire = b"".join(r.wire for r in reqs)
    p = run_pronghorn(wire)
    assert p.agrees(run_h11(wire))
    t = run_httptools(wire)
    if not p.agrees(t):
        assert t.end == "error" and "InvalidMethod" in t.reason, t
        assert all(a.same(b) for a, b in zip(t.messages, p.messages))
        assert reqs[len(t.messages)].method.decode() not in LLHTTP_METHODS


# ---- mutated requests: pronghorn is never more lenient on framing -------------

MUTATION_BYTES = [b"\r", b"\n", b"\0", b" ", b"\t", b"\x7f", b"\x80", b"\xff", b":", b",",
                  b";", b"=", b'"', b"\\", b"0", b"9", b"a", b"F", b"-", b"/", b"?", b"%", b"#"]
INJECTED_LINES = [
    b"Content-Length: 0", b"Content-Length: 5", b"Content-Length: 5, 5", b"Content-Length: +5",
    b"Content-Length: 05", b"Content-Length:  5 ", b"Transfer-Encoding: chunked",
    b"Transfer-Encoding: identity", b"Transfer-Encoding: gzip, chunked",
    b"Transfer-Encoding: chunked, identity", b"Transfer-Encoding: chunked,",
    b"Transfer-Encoding : chunked", b" Transfer-Encoding: chunked", b"\tx",
    b"Host: other.example", b"Host:", b"Connection: close", b"Connection: keep-alive",
    b"Expect: 100-continue", b"Expect: 100-continue, x", b"Upgrade: websocket",
    b"Connection: upgrade", b"X: \0", b"X:", b":x", b"X-\xffY: z",
]
mutation = st.one_of(
    st.tuples(st.just("insert"), st.integers(0, 1 << 16), st.sampled_from(MUTATION_BYTES)),
    st.tuples(st.just("replace"), st.integers(0, 1 << 16),
              st.sampled_from(MUTATION_BYTES) | st.binary(min_size=1, max_size=1)),
    st.tuples(st.just("delete"), st.integers(0, 1 << 16), st.just(b"")),
    st.tuples(st.just("line"), st.integers(0, 1 << 16), st.sampled_from(INJECTED_LINES)),
    st.tuples(st.just("repeat"), st.integers(0, 1 << 16), st.just(b"")),
)


def mutate(data: bytes, muts) -> bytes:
    for kind, at, arg in muts:
        if kind in ("line", "repeat"):
            starts = [0] + [i + 1 for i, b in enumerate(data) if b == 0x0A]
            i = starts[at % len(starts)]
            if kind == "line":
                data = data[:i] + arg + b"\r\n" + data[i:]
            else:  # repeat the line that starts at i (a second Host, Content-Length, ...)
                j = data.find(b"\n", i)
                j = len(data) if j < 0 else j + 1
                data = data[:j] + data[i:j] + data[j:]
        else:
            i = at % (len(data) + 1)
            if kind == "insert":
                data = data[:i] + arg + data[i:]
            elif data:
                i = min(i, len(data) - 1)
                data = data[:i] + (arg if kind == "replace" else b"") + data[i + 1 :]
    return data


def _field(m: Message | None, name: bytes) -> list[bytes]:
    return [v for n, v in m.headers if n == name] if m is not None else []


def _te_has_empty_element(m: Message | None) -> bool:
    return any(not el.strip(b" \t") for v in _field(m, b"transfer-encoding")
               for el in v.split(b","))


def _upgrade_without_connection_option(m: Message | None) -> bool:
    options = {o.strip(b" \t").lower() for v in _field(m, b"connection") for o in v.split(b",")}
    return bool(_field(m, b"upgrade")) and b"upgrade" not in options


_CHUNK_LINE_WITH_BWS = re.compile(rb"\n[0-9A-Fa-f]+(?:[ \t]*;|;)[^\r\n]*\r\n")


def _chunk_ext_bws(data: bytes) -> bool:
    return any(re.search(rb"[ \t]", m.group(0)) for m in _CHUNK_LINE_WITH_BWS.finditer(data)) or (
        re.search(rb"\n[0-9A-Fa-f]+[ \t]+;", data) is not None)


def _scheme(m: Message | None) -> bytes:
    return m.target.split(b"://", 1)[0] if m is not None and b"://" in m.target else b""


# Where a reference stops before pronghorn does, without pronghorn being lenient on
# framing: (reference, rule, test on the reference's outcome, the message pronghorn
# parsed at that point -- None if pronghorn parsed none there -- and the input).
REFERENCE_QUIRKS = [
    # "illegal request line" when the bytes after the last request are a lone CR
    ("h11", LEADING_CRLF, lambda o, m, d: o.reason == "no request line received"
     or (m is None and o.reason.startswith("illegal request line"))),
    ("h11", HTTP10_KEEPALIVE,
     lambda o, m, d: o.end == "closed" and o.messages[-1].version == b"1.0"),
    ("h11", UPGRADE_NEEDS_OPTION,
     lambda o, m, d: o.end == "closed" and _upgrade_without_connection_option(o.messages[-1])),
    ("httptools", UNKNOWN_METHOD,
     lambda o, m, d: "InvalidMethod" in o.reason or "Invalid method for HTTP/x.x" in o.reason),
    ("httptools", TE_TRAILING_HTAB, lambda o, m, d: "invalid `Transfer-Encoding`" in o.reason
     and _field(m, b"transfer-encoding") == [b"chunked"]),
    ("h11", CHUNK_EXT_BWS, lambda o, m, d: "chunk header" in o.reason and _chunk_ext_bws(d)),
    ("httptools", CHUNK_EXT_BWS, lambda o, m, d: "chunk" in o.reason and _chunk_ext_bws(d)),
    ("h11", TE_EMPTY_ELEMENT, lambda o, m, d: _te_has_empty_element(m)),
    ("httptools", TE_EMPTY_ELEMENT, lambda o, m, d: _te_has_empty_element(m)),
    ("httptools", SCHEME_CHARS, lambda o, m, d: "url schema" in o.reason
     and not _scheme(m).isalpha()),
]


def explain_early_stop(name: str, ref: Outcome, mine: Message | None, data: bytes) -> Rule | None:
    for who, rule, applies in REFERENCE_QUIRKS:
        if who == name and applies(ref, mine, data):
            return rule
    return None


@GENERATED
@given(pipeline(), st.lists(mutation, min_size=1, max_size=3))
def test_mutated_requests(reqs: list[GenRequest], muts):
    """Broken requests: pronghorn never crashes, rejects with a known status, and every
    message it accepts both references accept with the same framing and fields."""
    data = mutate(b"".join(r.wire for r in reqs), muts)
    p = run_pronghorn(data)
    if p.end == "error":
        assert p.status in STATUSES, p
    for name, run in REFERENCES.items():
        r = run(data)
        for mine, theirs in zip(p.messages, r.messages):
            assert mine.same(theirs), f"{name} parsed {theirs}\npronghorn {mine}\n{data!r}"
        stopped_early = len(r.messages) < len(p.messages) or (
            len(r.messages) == len(p.messages) and p.end == "done" and r.end == "error")
        if stopped_early:
            mine = p.messages[len(r.messages)] if len(r.messages) < len(p.messages) else None
            assert explain_early_stop(name, r, mine, data), f"{name}: {r}\npronghorn: {p}\n{data!r}"


# ---- split invariance, from Python ---------------------------------------------


def _parse(data: bytes, **limits):
    try:
        return _core.parse_request(data, **limits)
    except _core.ProtocolError as e:
        return ("error", *e.args)


def _decode(data: bytes):
    try:
        return _core.decode_chunked(data)
    except _core.ProtocolError as e:
        return ("error", *e.args)


SPLIT_CASES = [c for c in CASES if len(corpus_input(c.id)) <= 4096]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in SPLIT_CASES])
def test_growing_prefixes_give_the_whole_input_result(case: Case):
    """parse_request on data[:1], data[:2], ... says None until it has decided, then
    exactly what it says about the whole input (the server re-parses a growing buffer)."""
    data = corpus_input(case.id)
    whole = _parse(data)
    decided = False
    for i in range(len(data) + 1):
        r = _parse(data[:i])
        if r is not None:
            decided = True
        if decided:
            assert r == whole, (i, r, whole)
    if whole is None or whole[0] == "error" or whole[5] != _core.BODY_CHUNKED:
        return
    # The chunked body: prefixes decode a prefix of the body, never a different error.
    body_bytes = data[whole[0] :]
    final = _decode(body_bytes)
    failed = False
    for i in range(len(body_bytes) + 1):
        r = _decode(body_bytes[:i])
        if r[0] == "error" or failed:
            failed = True
            assert r == final, (i, r, final)
            continue
        part, used, done = r
        assert not (final[0] == "error" and done)
        if final[0] != "error":
            assert final[0].startswith(part) and used <= final[1]
            assert done == (final[2] and i >= final[1]) and (not done or r == final)


CHUNKED_CASES = [
    c for c in CASES
    if isinstance(r := _parse(corpus_input(c.id)), tuple) and r[0] != "error"
    and r[5] == _core.BODY_CHUNKED
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CHUNKED_CASES])
def test_decode_chunked_matches_the_references(case: Case):
    data = corpus_input(case.id)
    body_bytes = data[_core.parse_request(data)[0] :]
    mine = _decode(body_bytes)
    if mine[0] == "error" or not mine[2]:
        # Refused or cut short: whatever the references say is in the table already.
        assert mine[0] != "error" or case.id in DIFFERENCES or run_h11(data).end == "error"
        return
    for name, run in REFERENCES.items():
        ref = run(data)
        if not ref.messages:  # the reference refuses what pronghorn decodes: listed
            assert name in DIFFERENCES[case.id][1].split(), (name, ref)
            continue
        assert ref.messages[0].body in (None, mine[0]), name


def test_corpus_has_chunked_bodies():
    assert len(CHUNKED_CASES) >= 20


def test_decode_chunked_empty_body_is_bytes():
    assert _core.decode_chunked(b"0\r\n\r\n") == (b"", 5, True)
    assert _core.decode_chunked(b"") == (b"", 0, False)


# ---- limits ----------------------------------------------------------------------


def _request_line(length: int) -> bytes:
    """A request-line of exactly `length` bytes (without its CRLF)."""
    return b"GET /" + b"a" * (length - len(b"GET / HTTP/1.1")) + b" HTTP/1.1"


@pytest.mark.parametrize("limit", [20, 100, 8190])
def test_request_line_limit_is_414(limit: int):
    fits = _request_line(limit) + b"\r\nHost: a\r\n\r\n"
    assert _parse(fits, max_request_line=limit)[1] == b"GET"
    too_long = _request_line(limit + 1) + b"\r\nHost: a\r\n\r\n"
    assert _parse(too_long, max_request_line=limit)[:2] == ("error", 414)
    # Decided as soon as the line passes the limit, without waiting for its end.
    assert _parse(too_long[: limit + 1], max_request_line=limit)[:2] == ("error", 414)


@pytest.mark.parametrize("limit", [64, 1000, 65536])
def test_head_limit_is_431(limit: int):
    base = b"GET / HTTP/1.1\r\nHost: a\r\nX: "
    head = base + b"v" * (limit - len(base) - 4) + b"\r\n\r\n"
    assert len(head) == limit and _parse(head, max_head=limit)[0] == limit
    bigger = base + b"v" * (limit - len(base) - 3) + b"\r\n\r\n"
    assert _parse(bigger, max_head=limit)[:2] == ("error", 431)
    endless = base + b"v" * (2 * limit)
    assert _parse(endless, max_head=limit)[:2] == ("error", 431)


@pytest.mark.parametrize("limit", [1, 2, 100])
def test_header_count_limit_is_431(limit: int):
    def head(n: int) -> bytes:
        fields = [b"Host: a"] + [b"X-%d: v" % i for i in range(n - 1)]
        return b"GET / HTTP/1.1\r\n" + b"".join(f + b"\r\n" for f in fields) + b"\r\n"

    assert len(_parse(head(limit), max_headers=limit)[4]) == limit
    assert _parse(head(limit + 1), max_headers=limit)[:2] == ("error", 431)


@pytest.mark.parametrize("limit", [0, 10, 16 * 1024 * 1024])
def test_body_limit_is_413(limit: int):
    def head(length: int) -> bytes:
        return b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % length

    assert _parse(head(limit), max_body=limit)[6] == limit
    assert _parse(head(limit + 1), max_body=limit)[:2] == ("error", 413)
    assert _parse(head(10**30), max_body=limit)[:2] == ("error", 413)
    chunked = b"%x\r\n%s\r\n0\r\n\r\n"
    assert _core.decode_chunked(chunked % (limit, b"x" * limit), max_body=limit)[2]
    with pytest.raises(_core.ProtocolError) as e:
        _core.decode_chunked(chunked % (limit + 1, b"x" * (limit + 1)), max_body=limit)
    assert e.value.args[0] == 413


def test_gunicorn_limit_cases():
    """gunicorn's limit cases that pronghorn can express, replayed with gunicorn's limits
    (defaults: 4094-byte request-line, 100 fields). Its per-field size limit has no
    pronghorn counterpart (pronghorn bounds the whole head): GUNICORN_LIMIT."""
    expressible = {"gunicorn/invalid/006": 414, "gunicorn/invalid/009": 431,
                   "gunicorn/invalid/011": 431}
    for cid, status in expressible.items():
        case = CASES_BY_ID[cid]
        limits = {"max_request_line": case.options.get("limit_request_line", 4094),
                  "max_headers": case.options.get("limit_request_fields", 100)}
        assert GUNICORN_STATUS[case.error] == status
        assert run_pronghorn(case.data, **limits).summary == status, cid


# ---- regressions: pronghorn bugs these tests found (fixed in http1.c) -------------


@pytest.mark.parametrize("target", [b"http://a#@b/", b"http://127.0.#.1/", b"http://h:80#x/"])
def test_absolute_form_target_with_fragment_is_rejected(target: bytes):
    # An absolute-URI has no fragment (RFC 9112 §3.2.2): '#' must not end the authority.
    assert _parse(b"GET %s HTTP/1.1\r\nHost: a\r\n\r\n" % target)[:2] == ("error", 400)


def test_upgrade_is_ignored_in_http10():
    # RFC 9110 §7.8: a server MUST ignore Upgrade received in an HTTP/1.0 request.
    r = _parse(b"GET / HTTP/1.0\r\nConnection: keep-alive, upgrade\r\nUpgrade: websocket\r\n\r\n")
    assert r[7] & _core.REQ_KEEP_ALIVE and not r[7] & _core.REQ_UPGRADE


def test_upgrade_is_flagged_in_http11():
    r = _parse(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n")
    assert r[7] & _core.REQ_UPGRADE
