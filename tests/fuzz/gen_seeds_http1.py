#!/usr/bin/env python3
"""Write the seed corpus of fuzz_http1 from the third-party request corpora.

Reads llhttp's Markdown cases and gunicorn's .http files (see
../shared/testdata/README.md for both formats), decodes them to raw bytes,
picks a spread of about fifty, and writes each as one seed file: a control
byte (the limits profile, see fuzz_http1.c) followed by the request bytes.
Run from the repo root; the output is committed:

    python3 tests/fuzz/gen_seeds_http1.py ../shared/testdata tests/fuzz/corpus/fuzz_http1
"""
import hashlib
import os
import re
import sys

HEX = "0123456789abcdefABCDEF"


def llhttp_decode(block):
    """The llhttp test runner's rules: escaped newlines vanish, newlines become
    CRLF, then \\r \\n \\t \\f \\xHH and octal escapes become bytes."""
    out = bytearray()
    i, n = 0, len(block)
    while i < n:
        c = block[i]
        nxt = block[i + 1] if i + 1 < n else ""
        if c == "\\" and nxt == "\n":
            i += 2
        elif c == "\n":
            out += b"\r\n"
            i += 1
        elif c == "\\" and nxt in "rntf" and nxt:
            out += {"r": b"\r", "n": b"\n", "t": b"\t", "f": b"\f"}[nxt]
            i += 2
        elif c == "\\" and nxt == "x" and i + 2 < n and block[i + 2] in HEX:
            j = i + 2
            while j < n and block[j] in HEX:
                j += 1
            out.append(int(block[i + 2:j], 16) & 0xFF)
            i = j
        elif c == "\\" and nxt and nxt in "01234567":
            j = i + 1
            while j < n and j < i + 4 and block[j] in "01234567":
                j += 1
            out.append(int(block[i + 1:j], 8) & 0xFF)
            i = j
        else:
            out += c.encode("utf-8")
            i += 1
    return bytes(out)


def llhttp_cases(root):
    for fname in sorted(os.listdir(os.path.join(root, "llhttp"))):
        if not fname.endswith(".md"):
            continue
        text = open(os.path.join(root, "llhttp", fname), encoding="utf-8").read()
        for m in re.finditer(r"```http\n(.*?)\n```", text, re.S):
            yield f"llhttp-{fname[:-3]}", llhttp_decode(m.group(1))


def gunicorn_decode(raw):
    raw = raw.replace(b"\n", b"")
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw.startswith(b"\\r\\n", i):
            out += b"\r\n"
            i += 4
        elif raw.startswith(b"\\n", i) or raw.startswith(b"\\t", i) or raw.startswith(b"\\0", i):
            out += {b"n": b"\n", b"t": b"\t", b"0": b"\0"}[raw[i + 1:i + 2]]
            i += 2
        elif (raw.startswith(b"\\x", i) and i + 3 < len(raw)
              and all(chr(b) in HEX for b in raw[i + 2:i + 4])):
            out.append(int(raw[i + 2:i + 4], 16))
            i += 4
        else:
            out.append(raw[i])
            i += 1
    return bytes(out)


def gunicorn_cases(root):
    for kind in ("valid", "invalid"):
        d = os.path.join(root, "gunicorn", kind)
        for fname in sorted(os.listdir(d)):
            if fname.endswith(".http"):
                raw = open(os.path.join(d, fname), "rb").read()
                yield f"gunicorn-{kind}-{fname[:-5]}", gunicorn_decode(raw)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "../shared/testdata"
    out_dir = sys.argv[2] if len(sys.argv) > 2 else "tests/fuzz/corpus/fuzz_http1"
    seen, cases = set(), []
    for name, data in list(llhttp_cases(root)) + list(gunicorn_cases(root)):
        if data not in seen and 0 < len(data) <= 4096:
            seen.add(data)
            cases.append((name, data))
    step = max(1, len(cases) // 50)
    picked = cases[::step]
    os.makedirs(out_dir, exist_ok=True)
    for old in os.listdir(out_dir):
        os.remove(os.path.join(out_dir, old))
    for k, (name, data) in enumerate(picked):
        control = bytes([k % 8])  # spread the limits profiles over the seeds
        digest = hashlib.sha1(data).hexdigest()[:8]
        with open(os.path.join(out_dir, f"{name}-{digest}"), "wb") as f:
            f.write(control + data)
    print(f"{len(picked)} seeds from {len(cases)} distinct inputs -> {out_dir}")


if __name__ == "__main__":
    main()
