"""The servers under test: how each is started, stopped and measured.

Every server runs one worker process (plus its own supervisor/master process
where it has one) pinned to CPU 0 with ``taskset``, bound to a free port on
127.0.0.1, in its own process group so that stopping it kills everything it
started. Memory is read from /proc for the whole process tree.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.apps.common import many_routes

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
PEERS_VENV = BENCH / ".venv-peers"
# The pronghorn under test: the in-place build in src/ (`make build`), or another built
# tree, e.g. a clean `git worktree` of a commit while src/ is being edited.
PRONGHORN_SRC = Path(os.environ.get("PRONGHORN_SRC", ROOT / "src")).resolve()
SERVER_CPU = "0"
KEEP_ALIVE = "120"  # seconds; long enough for the idle-connections scenario everywhere

SCENARIOS_ASYNC = ("json", "params", "post", "sleep", "routes")


@dataclass
class Server:
    key: str
    label: str
    command: Callable[[int, Path], list[str]]
    handlers: str                     # the handler types, as a sentence for the table
    pronghorn: bool = False
    env: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skip: str | None = None          # why this server is not run, when it is not
    validates: bool = True           # False for nginx: fixed answers, no input validation


def peers_python() -> str:
    return str(PEERS_VENV / "bin" / "python")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- commands ----------------------------------------------------------------

def _nginx_routes() -> str:
    lines = []
    for i, param in many_routes():
        if param is None:
            lines.append(f'        location = /route{i}/info {{ default_type application/json; '
                         f'return 200 \'{{"route":{i}}}\'; }}')
        else:
            lines.append(f'        location ~ ^/route{i}/(0|[1-9][0-9]*)$ {{ default_type '
                         f'application/json; return 200 \'{{"route":{i},"item_id":$1}}\'; }}')
    return "\n".join(lines)


def _nginx(port: int, tmp: Path) -> list[str]:
    template = (BENCH / "nginx.conf.template").read_text()
    conf = tmp / "nginx.conf"
    conf.write_text(template.format(port=port, tmp=tmp, routes=_nginx_routes()))
    return ["nginx", "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")]


def _uvicorn(module: str) -> Callable[[int, Path], list[str]]:
    def command(port: int, tmp: Path) -> list[str]:
        return [peers_python(), "-m", "uvicorn", f"benchmarks.apps.{module}:app",
                "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop",
                "--http", "httptools", "--no-access-log", "--log-level", "warning",
                "--timeout-keep-alive", KEEP_ALIVE, "--backlog", "4096"]
    return command


def _granian(module: str) -> Callable[[int, Path], list[str]]:
    def command(port: int, tmp: Path) -> list[str]:
        return [str(PEERS_VENV / "bin" / "granian"), "--interface", "asgi",
                "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                "--runtime-threads", "1", "--loop", "uvloop", "--http", "1", "--no-ws",
                "--log-level", "warning", "--backlog", "4096",
                # granian admits at most `backpressure` connections (default backlog/workers)
                "--backpressure", "16384", f"benchmarks.apps.{module}:app"]
    return command


def _socketify(port: int, tmp: Path) -> list[str]:
    return [peers_python(), "-m", "benchmarks.apps.socketify_app", str(port)]


def _pronghorn(target: str, *extra: str) -> Callable[[int, Path], list[str]]:
    def command(port: int, tmp: Path) -> list[str]:
        return [peers_python(), "-m", "pronghorn", "run", target, "--host", "127.0.0.1",
                "--port", str(port), "--workers", "1", "--no-access-log",
                "--log-level", "warning", "--keep-alive-timeout", KEEP_ALIVE,
                "--backlog", "4096", *extra]
    return command


def _pronghorn_env() -> dict[str, str]:
    # The package as `make build` left it in src/ (the in-place build), first on the path.
    return {"PYTHONPATH": f"{PRONGHORN_SRC}{os.pathsep}{ROOT}"}


def _peers_can_import(*modules: str) -> str | None:
    """None when the peers venv imports all of ``modules``, else the reason it does not."""
    if not Path(peers_python()).exists():
        return "peers virtualenv missing (run `make bench`)"
    code = "import " + ", ".join(modules)
    done = subprocess.run([peers_python(), "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, **_pronghorn_env()})
    if done.returncode:
        return f"`{code}` failed: {done.stderr.strip().splitlines()[-1]}"
    return None


def pronghorn_has_asgi_interface() -> bool:
    done = subprocess.run([peers_python(), "-m", "pronghorn", "run", "--help"],
                          capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **_pronghorn_env()})
    return "--interface" in done.stdout


def pronghorn_notes() -> list[str]:
    """The pronghorn app's own notes on features it works around (``NOTES``)."""
    code = ("import json, benchmarks.apps.pronghorn_app as m; print(json.dumps(m.NOTES))")
    done = subprocess.run([peers_python(), "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, **_pronghorn_env()})
    if done.returncode:
        return ["the pronghorn app did not import: " + (done.stderr.strip().splitlines()
                                                         or ["?"])[-1]]
    import json

    return json.loads(done.stdout)


def all_servers() -> list[Server]:
    """Every server of the suite, with ``skip`` set for those that cannot run here."""
    asgi_async = "async handlers (Starlette/FastAPI style)"
    servers = [
        Server("nginx", "nginx", _nginx, "`return 200` (no handler)", validates=False,
               notes=["fixed answers from `return`: path regex only, no JSON, query not "
                      "decoded, body discarded unread"]),
        Server("uvicorn-starlette", "uvicorn + Starlette", _uvicorn("starlette_app"), asgi_async),
        Server("uvicorn-fastapi", "uvicorn + FastAPI", _uvicorn("fastapi_app"), asgi_async),
        Server("granian-starlette", "granian + Starlette", _granian("starlette_app"), asgi_async),
        Server("granian-fastapi", "granian + FastAPI", _granian("fastapi_app"), asgi_async),
        Server("socketify", "socketify", _socketify,
               "sync plaintext and POST (body through `on_data`), async others (socketify's own "
               "API, not ASGI)"),
        Server("pronghorn", "pronghorn", _pronghorn("benchmarks.apps.pronghorn_app:app"),
               "sync plaintext (`def`), async others (`async def`)", pronghorn=True,
               env=_pronghorn_env()),
        Server("pronghorn-asgi-starlette", "pronghorn ASGI + Starlette",
               _pronghorn("benchmarks.apps.starlette_app:app", "--interface", "asgi"),
               asgi_async, pronghorn=True, env=_pronghorn_env()),
        Server("pronghorn-asgi-fastapi", "pronghorn ASGI + FastAPI",
               _pronghorn("benchmarks.apps.fastapi_app:app", "--interface", "asgi"),
               asgi_async, pronghorn=True, env=_pronghorn_env()),
    ]
    if sys.platform != "linux":
        raise SystemExit("the benchmark suite needs Linux (/proc, taskset, epoll)")
    for s in servers:
        if s.key == "nginx":
            s.skip = None if _which("nginx") else "nginx not installed"
        elif s.key.startswith("uvicorn"):
            s.skip = _peers_can_import("uvicorn", "httptools", "uvloop", "fastapi")
        elif s.key.startswith("granian"):
            s.skip = _peers_can_import("granian", "fastapi")
        elif s.key == "socketify":
            s.skip = _peers_can_import("socketify")
            if s.skip:
                s.skip = "socketify did not install: " + s.skip
        elif s.key == "pronghorn":
            s.skip = _peers_can_import("pronghorn._core")
        else:
            s.skip = _peers_can_import("pronghorn._core", "fastapi")
            if s.skip is None and not pronghorn_has_asgi_interface():
                s.skip = "`pronghorn run --help` has no `--interface` (ASGI mode not built yet)"
    return servers


def _which(name: str) -> bool:
    import shutil

    return shutil.which(name) is not None


# ---- process tree and memory -----------------------------------------------------

def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def tree_pids(root: int) -> list[int]:
    children = _children_map()
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children.get(pid, ()))
    return pids


def tree_memory_kib(root: int) -> dict[str, int]:
    """Sum over the process tree of VmRSS (now) and VmHWM (peak), in KiB."""
    total = {"rss_kib": 0, "hwm_kib": 0, "processes": 0}
    for pid in tree_pids(root):
        try:
            with open(f"/proc/{pid}/status") as f:
                status = f.read()
        except OSError:
            continue
        total["processes"] += 1
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total["rss_kib"] += int(line.split()[1])
            elif line.startswith("VmHWM:"):
                total["hwm_kib"] += int(line.split()[1])
    return total


# ---- running -----------------------------------------------------------------------

class ServerFailed(RuntimeError):
    pass


@dataclass
class Running:
    server: Server
    port: int
    proc: subprocess.Popen
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _ready(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/")
        conn.getresponse().read()
        conn.close()
        return True
    except (OSError, http.client.HTTPException):
        return False


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process group, SIGKILL what is left after 5 s."""
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        proc.wait()
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)  # workers the master did not reap, or a stuck server
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


@contextlib.contextmanager
def running(server: Server, start_timeout: float = 30.0) -> Iterator[Running]:
    """Start ``server`` pinned to CPU 0 on a free port; stop its whole process group after."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{server.key}-") as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        log = tmp / "server.log"
        cmd = ["taskset", "-c", SERVER_CPU, *server.command(port, tmp)]
        env = {**os.environ, "PYTHONPATH": str(ROOT), **server.env}
        env.pop("PYTHONHOME", None)
        with open(log, "wb") as log_file:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                    stdout=log_file, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        run = Running(server, port, proc, log)
        try:
            deadline = time.monotonic() + start_timeout
            while not _ready(port):
                if not run.alive():
                    raise ServerFailed(f"{server.label} exited with {proc.returncode}:\n"
                                       f"{run.log_tail()}")
                if time.monotonic() > deadline:
                    raise ServerFailed(f"{server.label} did not answer within "
                                       f"{start_timeout:.0f} s:\n{run.log_tail()}")
                time.sleep(0.1)
            yield run
        finally:
            _stop(proc)
