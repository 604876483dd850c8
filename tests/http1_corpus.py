"""Loaders for the third-party HTTP/1.1 request corpora in /work/shared/testdata.

Owns: turning llhttp's Markdown cases and gunicorn's .http/.py pairs into
`Case` records (raw bytes plus what the corpus itself says about them).
Knows nothing about pronghorn or the reference parsers; the differential
tests decide what to do with each case.

Corpus notes (see the corpora's README.md):
- llhttp: one case per ```http block; the text is normalised to CRLF line
  ends and then `\\r \\n \\t \\f \\xNN \\NNN(octal)` escapes become bytes, in
  that order. A backslash at the end of a line joins it with the next one.
  Cases of type `request-finish` (finish() API) and cases with a `pause`
  meta (pause API) do not describe parsing and are skipped; the `log` block
  is not read (httptools runs the same parser).
- gunicorn: real newlines are dropped, then `\\r \\n \\t \\0 \\xNN` become
  bytes. The .py file is executed with stand-ins for `uri()`, `Config` and
  `gunicorn.http.errors`, so it may set options and name an error class.
"""

from __future__ import annotations

import json
import os
import re
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

TESTDATA = Path(os.environ.get("PRONGHORN_TESTDATA", "/work/shared/testdata"))


@dataclass(frozen=True)
class Expected:
    """One request as the corpus says it parses."""

    method: bytes
    target: bytes
    version: bytes  # b"1.1"
    headers: tuple[tuple[bytes, bytes], ...]  # names lowercased
    body: bytes


@dataclass(frozen=True)
class Case:
    id: str  # "llhttp/uri.md#..." or "gunicorn/valid/001"
    data: bytes
    # What the corpus claims: True (valid), False (must be rejected), or None for
    # llhttp, whose verdict in strict mode is httptools' (the same parser).
    valid: bool | None
    messages: tuple[Expected, ...] = ()  # gunicorn valid: the expected parse
    # gunicorn invalid: the error class named by the case
    error: str | None = None
    # gunicorn: options the case sets (cfg.set(key, value))
    options: dict = field(default_factory=dict)
    kind: str = ""  # llhttp meta type, or "valid"/"invalid" for gunicorn


# ---- llhttp ----------------------------------------------------------------

_LLHTTP_ESCAPES = [
    (re.compile(rb"\\r"), lambda m: b"\r"),
    (re.compile(rb"\\n"), lambda m: b"\n"),
    (re.compile(rb"\\t"), lambda m: b"\t"),
    (re.compile(rb"\\f"), lambda m: b"\f"),
    (re.compile(rb"\\x([0-9a-fA-F]+)"), lambda m: bytes([int(m.group(1), 16) & 0xFF])),
    (re.compile(rb"\\([0-7]{1,3})"), lambda m: bytes([int(m.group(1), 8) & 0xFF])),
]


def llhttp_input(block: str) -> bytes:
    """Bytes of an llhttp ```http block (its lines, without the fence lines)."""
    raw = block.encode("utf-8")
    raw = re.sub(rb"\\(\r\n|\r|\n)", b"", raw)
    raw = re.sub(rb"\r\n|\r|\n", b"\r\n", raw)
    for pattern, repl in _LLHTTP_ESCAPES:
        raw = pattern.sub(repl, raw)
    return raw


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def load_llhttp(root: Path = TESTDATA / "llhttp") -> list[Case]:
    cases: list[Case] = []
    seen: set[str] = set()
    for md in sorted(root.glob("*.md")):
        lines = md.read_text(encoding="utf-8").split("\n")
        title, meta, i = "", None, 0
        http: str | None = None
        while i < len(lines):
            line = lines[i]
            if line.startswith("#"):
                title, meta, http = line.lstrip("#").strip(), None, None
            elif line.startswith("<!-- meta="):
                meta = json.loads(line[len("<!-- meta=") : line.rindex("-->")])
            elif line.startswith("```http") or line.startswith("```log"):
                fence = line[3:].strip()
                j = i + 1
                while not lines[j].startswith("```"):
                    j += 1
                body = "\n".join(lines[i + 1 : j])
                i = j
                if fence == "http":
                    http = body
                elif http is not None and meta is not None:  # a case is input + log
                    case = _llhttp_case(md.name, title, meta, http, seen)
                    if case is not None:
                        cases.append(case)
                    http = None
            i += 1
    return cases


def _llhttp_case(fname, title, meta, http, seen) -> Case | None:
    kind = meta.get("type", "")
    if not kind.startswith("request") or kind == "request-finish" or "pause" in meta:
        return None
    cid = f"llhttp/{fname}#{_slug(title)}"
    n = 2
    while cid in seen:
        cid = f"llhttp/{fname}#{_slug(title)}-{n}"
        n += 1
    seen.add(cid)
    return Case(cid, llhttp_input(http), None, kind=kind)


# ---- gunicorn --------------------------------------------------------------

_GUNICORN_ESCAPES = re.compile(rb"\\(r|n|t|0|x[0-9a-fA-F]{2})")


def gunicorn_input(text: bytes) -> bytes:
    raw = text.replace(b"\r", b"").replace(b"\n", b"")

    def repl(m: re.Match) -> bytes:
        e = m.group(1)
        if e.startswith(b"x"):
            return bytes([int(e[1:], 16)])
        return {b"r": b"\r", b"n": b"\n", b"t": b"\t", b"0": b"\0"}[e]

    return _GUNICORN_ESCAPES.sub(repl, raw)


class _Config:
    def __init__(self) -> None:
        self.options: dict = {}

    def set(self, key, value) -> None:
        self.options[key] = value


def _run_expectation(path: Path) -> tuple[object, dict]:
    """Execute a gunicorn .py expectation; return (request, options)."""
    errors = types.ModuleType("gunicorn.http.errors")
    errors.__getattr__ = lambda name: name  # an error class stands for its name
    config = types.ModuleType("gunicorn.config")
    configs: list[_Config] = []

    def make_config() -> _Config:
        configs.append(_Config())
        return configs[-1]

    config.Config = make_config
    fakes = {
        "gunicorn": types.ModuleType("gunicorn"),
        "gunicorn.http": types.ModuleType("gunicorn.http"),
        "gunicorn.http.errors": errors,
        "gunicorn.config": config,
    }
    saved = {name: sys.modules.get(name) for name in fakes}
    sys.modules.update(fakes)
    try:
        scope = {"uri": lambda raw: raw, "__name__": "gunicorn_case"}
        exec(compile(path.read_text(), str(path), "exec"), scope)
    finally:
        for name, mod in saved.items():
            if mod is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = mod
    options = configs[-1].options if configs else {}
    return scope["request"], options


def _expected(req: dict) -> Expected:
    def b(x) -> bytes:
        return x if isinstance(x, bytes) else x.encode("latin-1")

    major, minor = req["version"]
    return Expected(
        method=b(req["method"]),
        target=b(req["uri"]),
        version=f"{major}.{minor}".encode(),
        headers=tuple((b(n).lower(), b(v)) for n, v in req["headers"]),
        body=b(req["body"]),
    )


def load_gunicorn(root: Path = TESTDATA / "gunicorn") -> list[Case]:
    cases = []
    for sub in ("valid", "invalid"):
        for http in sorted((root / sub).glob("*.http")):
            request, options = _run_expectation(http.with_suffix(".py"))
            data = gunicorn_input(http.read_bytes())
            cid = f"gunicorn/{sub}/{http.stem}"
            if sub == "valid":
                reqs = request if isinstance(request, list) else [request]
                msgs = tuple(_expected(r) for r in reqs)
                cases.append(Case(cid, data, True, msgs, options=options, kind=sub))
            else:
                cases.append(Case(cid, data, False, error=request, options=options, kind=sub))
    return cases


def load_all() -> list[Case]:
    return load_llhttp() + load_gunicorn()


_HOST_FIELD = re.compile(rb"(?:^|\n)host[ \t]*:", re.IGNORECASE)
_FIRST_REQUEST_LINE_11 = re.compile(rb"(?:\r\n)*[!-~]+ [!-~]+ HTTP/1\.1\r\n")


def with_host(data: bytes, host: bytes = b"example.com") -> bytes:
    """data with a Host field line after its first request-line, if it has none.

    Most corpus requests omit Host, which RFC 9112 §3.2 requires in HTTP/1.1
    (llhttp and gunicorn do not check it); adding it lets a strict parser get
    to what the case was written to test. Only the first request-line is
    touched: a later one may sit inside a body, where adding bytes would change
    the case. Returns data unchanged when it has a Host field line anywhere or
    does not start with an HTTP/1.1 request-line.
    """
    if _HOST_FIELD.search(data):
        return data
    m = _FIRST_REQUEST_LINE_11.match(data)
    if m is None:
        return data
    return data[: m.end()] + b"Host: " + host + b"\r\n" + data[m.end() :]
