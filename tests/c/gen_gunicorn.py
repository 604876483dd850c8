#!/usr/bin/env python3
"""Turn gunicorn's request-corpus expectations into a file the C tests can read.

Each gunicorn case is NNN.http (raw bytes, read by test_http1.c itself) plus
NNN.py, a Python file whose `request` is a dict (or a list of dicts for
pipelined requests) or, for invalid cases, an exception class; it may call
`uri(...)` and `cfg.set(...)`. Parsing Python from C is not worth it, so this
script executes each .py with stand-ins for those names and for the gunicorn
imports, and writes one line-based record per case:

    case valid/001
    cfg limit_request_line 8200      (one line per cfg.set call)
    msg                              (one block per expected request)
    method <hex>
    uri <hex>
    version 1 0
    header <hex-name> <hex-value>
    body <hex>
    endmsg
    error InvalidRequestLine         (invalid cases instead of msg blocks)
    endcase

Byte strings are hex so that no escaping is needed on the C side. Regenerate
after the corpus changes (test_http1 checks the case count):

    python3 tests/c/gen_gunicorn.py ../shared/testdata/gunicorn \
        > tests/c/data/gunicorn_expect.txt
"""
import os
import sys
import types


class Config:
    def __init__(self):
        self.settings = []

    def set(self, key, value):
        self.settings.append((key, value))


def install_fake_gunicorn():
    errors = types.ModuleType("gunicorn.http.errors")
    cache = {}

    def make_error(name):
        if name.startswith("__"):
            raise AttributeError(name)
        if name not in cache:
            cache[name] = type(name, (Exception,), {})
        return cache[name]

    errors.__getattr__ = make_error
    config = types.ModuleType("gunicorn.config")
    config.Config = Config
    pkg = types.ModuleType("gunicorn")
    http = types.ModuleType("gunicorn.http")
    pkg.config, pkg.http, http.errors = config, http, errors
    sys.modules.update({"gunicorn": pkg, "gunicorn.config": config,
                        "gunicorn.http": http, "gunicorn.http.errors": errors})


def as_bytes(value):
    if isinstance(value, bytes):
        return value
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def hexed(value):
    return as_bytes(value).hex()


def emit_case(name, path, out):
    namespace = {"uri": lambda target: target, "cfg": Config(), "__file__": path}
    with open(path, encoding="utf-8") as f:
        exec(compile(f.read(), path, "exec"), namespace)
    out.append(f"case {name}")
    for key, value in namespace["cfg"].settings:
        out.append(f"cfg {key} {str(value).replace(' ', '_')}")
    expected = namespace["request"]
    if isinstance(expected, type):
        out.append(f"error {expected.__name__}")
    else:
        for req in expected if isinstance(expected, list) else [expected]:
            out.append("msg")
            out.append(f"method {hexed(req['method'])}")
            out.append(f"uri {hexed(req['uri'])}")
            out.append("version %d %d" % tuple(req["version"]))
            for hname, hvalue in req["headers"]:
                out.append(f"header {hexed(hname)} {hexed(hvalue)}")
            out.append(f"body {hexed(req.get('body', b''))}")
            for tname, tvalue in req.get("trailers", []):
                out.append(f"trailer {hexed(tname)} {hexed(tvalue)}")
            out.append("endmsg")
    out.append("endcase")


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "../shared/testdata/gunicorn"
    install_fake_gunicorn()
    out = []
    for kind in ("valid", "invalid"):
        for fname in sorted(os.listdir(os.path.join(root, kind))):
            if fname.endswith(".py"):
                emit_case(f"{kind}/{fname[:-3]}", os.path.join(root, kind, fname), out)
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
