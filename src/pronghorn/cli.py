"""Command line: ``pronghorn run MODULE:ATTR [options]``.

Owns: argument parsing and validation (bad values are argparse errors,
exit code 2) and the choice between serving in-process (one worker) and
running the supervisor (several). Defaults come from ``ServerConfig``; none
is repeated here.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
from collections.abc import Callable, Sequence

from pronghorn import __version__
from pronghorn.config import (
    LOG_LEVELS,
    INTERFACES,
    LIFESPANS,
    LOOPS,
    MAX_HEADERS_CAP,
    MIN_HEAD_SIZE,
    MIN_REQUEST_LINE,
    ServerConfig,
)

__all__ = ["build_parser", "config_from_args", "main"]

_DEFAULTS = ServerConfig()


def _integer(low: int, high: int | None = None) -> Callable[[str], int]:
    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
        return value

    convert.__name__ = "integer"
    return convert


def _seconds(allow_zero: bool) -> Callable[[str], float]:
    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") \
                from None
        if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            kind = "zero or positive" if allow_zero else "positive"
            raise argparse.ArgumentTypeError(f"must be a {kind} number of seconds, got {text}")
        return value

    convert.__name__ = "seconds"
    return convert


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pronghorn", description="pronghorn: a Python web framework with a C engine.")
    parser.add_argument("--version", action="version", version=f"pronghorn {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run", help="serve an application",
        description="Serve the application named by MODULE:ATTR (ATTR may be dotted).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    d = _DEFAULTS
    run.add_argument("app", metavar="MODULE:ATTR", help="import string of the application")
    run.add_argument("--factory", action="store_true", default=d.factory,
                     help="MODULE:ATTR is a factory: call it with no arguments to get the app")
    run.add_argument("--app-dir", default=d.app_dir, metavar="DIR",
                     help="directory put first on sys.path before importing the app")
    run.add_argument("--host", default=d.host, help="address to bind (IPv4 or IPv6)")
    run.add_argument("--port", type=_integer(0, 65535), default=d.port,
                     help="port to bind (0: any free port)")
    run.add_argument("--backlog", type=_integer(1), default=d.backlog, metavar="N",
                     help="listen backlog")
    run.add_argument("--workers", type=_integer(1), default=d.workers, metavar="N",
                     help="worker processes (more than 1: a supervisor pre-forks them, "
                          "each binds with SO_REUSEPORT)")
    run.add_argument("--header-timeout", type=_seconds(False), default=d.header_timeout,
                     metavar="SECONDS", help="time allowed to receive a request's head")
    run.add_argument("--keep-alive-timeout", type=_seconds(False),
                     default=d.keep_alive_timeout, metavar="SECONDS",
                     help="idle time before a keep-alive connection is closed")
    run.add_argument("--graceful-timeout", type=_seconds(True), default=d.graceful_timeout,
                     metavar="SECONDS",
                     help="on SIGTERM/SIGINT, time allowed for in-flight requests to finish")
    run.add_argument("--max-body-size", type=_integer(1), default=d.max_body_size,
                     metavar="BYTES", help="largest request body accepted (413 beyond)")
    run.add_argument("--max-request-line", type=_integer(MIN_REQUEST_LINE),
                     default=d.max_request_line,
                     metavar="BYTES", help="longest request line accepted (414 beyond)")
    run.add_argument("--max-head-size", type=_integer(MIN_HEAD_SIZE),
                     default=d.max_head_size,
                     metavar="BYTES", help="largest request head accepted (431 beyond)")
    run.add_argument("--max-headers", type=_integer(1, MAX_HEADERS_CAP), default=d.max_headers,
                     metavar="N", help="most header fields accepted (431 beyond)")
    run.add_argument("--access-log", action=argparse.BooleanOptionalAction,
                     default=d.access_log, help="log one line per response")
    run.add_argument("--log-level", choices=LOG_LEVELS, default=d.log_level, type=str.lower,
                     help="log level")
    run.add_argument("--loop", choices=LOOPS, default=d.loop,
                     help="event loop (auto: uvloop when installed, else asyncio)")
    run.add_argument("--interface", choices=INTERFACES, default=d.interface,
                     help="native (a Pronghorn app or handler(request)) or asgi (any ASGI 3.0 "
                          "app); auto detects")
    run.add_argument("--root-path", default=d.root_path, metavar="PATH",
                     help="ASGI root_path: the prefix the app is mounted at behind a proxy")
    run.add_argument("--lifespan", choices=LIFESPANS, default=d.lifespan,
                     help="ASGI lifespan protocol (auto: used when the app supports it)")
    run.add_argument("--proxy-headers", action=argparse.BooleanOptionalAction,
                     default=d.proxy_headers,
                     help="take client address and scheme from X-Forwarded-For/-Proto and "
                          "Forwarded, when the peer is in --forwarded-allow-ips")
    run.add_argument("--forwarded-allow-ips", default=d.forwarded_allow_ips, metavar="IPS",
                     help="comma-separated addresses/networks trusted for proxy headers, or *")
    ws = run.add_argument_group("WebSockets of ASGI apps (Pronghorn apps: per route)")
    ws.add_argument("--ws-max-size", type=_integer(1), default=d.ws_max_size, metavar="BYTES",
                    help="largest message accepted, after decompression (close 1009 beyond)")
    ws.add_argument("--ws-max-queue", type=_integer(1), default=d.ws_max_queue, metavar="N",
                    help="received messages held for the app before the socket is not read")
    ws.add_argument("--ws-ping-interval", type=float, default=d.ws_ping_interval,
                    metavar="SECONDS", help="server pings (0: none)")
    ws.add_argument("--ws-ping-timeout", type=float, default=d.ws_ping_timeout,
                    metavar="SECONDS", help="time for a pong before the connection is closed")
    ws.add_argument("--ws-per-message-deflate", action=argparse.BooleanOptionalAction,
                    default=d.ws_per_message_deflate,
                    help="agree to permessage-deflate compression when the client offers it")
    return parser


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    return ServerConfig(
        app=args.app, factory=args.factory, app_dir=args.app_dir, host=args.host,
        port=args.port, backlog=args.backlog, workers=args.workers,
        header_timeout=args.header_timeout, keep_alive_timeout=args.keep_alive_timeout,
        graceful_timeout=args.graceful_timeout, max_body_size=args.max_body_size,
        max_request_line=args.max_request_line, max_head_size=args.max_head_size,
        max_headers=args.max_headers, access_log=args.access_log, log_level=args.log_level,
        loop=args.loop, interface=args.interface, root_path=args.root_path,
        lifespan=args.lifespan, proxy_headers=args.proxy_headers,
        forwarded_allow_ips=args.forwarded_allow_ips, ws_max_size=args.ws_max_size,
        ws_max_queue=args.ws_max_queue, ws_ping_interval=args.ws_ping_interval,
        ws_ping_timeout=args.ws_ping_timeout,
        ws_per_message_deflate=args.ws_per_message_deflate)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.loop == "uvloop" and importlib.util.find_spec("uvloop") is None:
        parser.error("--loop uvloop: uvloop is not installed (pip install uvloop)")
    config = config_from_args(args)

    from pronghorn import server

    server.configure_logging(config)
    try:
        if config.workers == 1:
            return server.run(config)
        from pronghorn import supervisor

        return supervisor.run(config)
    except KeyboardInterrupt:  # before the signal handlers were installed
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
