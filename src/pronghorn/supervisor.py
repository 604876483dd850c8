"""The master process of ``--workers N``: pre-forks workers and keeps N alive.

Owns: forking workers, noticing when they are up or die, replacing the
ones that die unexpectedly, rolling restarts (SIGHUP) and a bounded
graceful stop (SIGTERM/SIGINT).

Invariants:
- The master never creates an event loop and never imports the app: each
  worker is forked from a loop-free process and imports the app itself, so
  a rolling restart loads new code.
- Each worker binds its own SO_REUSEPORT socket. The master binds one first
  (kept bound, never listening, so it gets no connections) to fail fast on
  a taken port and to hold an ephemeral port (``--port 0``) for its workers.
- A worker reports that it is serving by writing one byte to a pipe. A
  worker that exits before that failed to boot: at start-up this stops
  everything with the worker's exit code; during a rolling restart it
  aborts the restart and the old workers keep serving.
- Every wait is bounded: a stopping worker is SIGKILLed after
  ``graceful_timeout`` plus a margin.

Must not know about: HTTP, the app, the event loop (see server.py).
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sys
import time
import traceback
from typing import Any

from pronghorn import server
from pronghorn.config import AppLoadError, ServerConfig, parse_import_string

__all__ = ["Supervisor", "run"]

logger = logging.getLogger("pronghorn.error")

KILL_MARGIN = 5.0        # seconds granted past graceful_timeout (shutdown hooks) before SIGKILL
MAX_RESPAWN_DELAY = 30.0  # cap of the back-off between workers that keep failing to boot
_TICK = 1.0

BOOTING, READY, STOPPING = "booting", "ready", "stopping"


class Worker:
    __slots__ = ("pid", "ready_fd", "state", "generation", "deadline")

    def __init__(self, pid: int, ready_fd: int, generation: int) -> None:
        self.pid = pid
        self.ready_fd: int | None = ready_fd
        self.state = BOOTING
        self.generation = generation
        self.deadline = 0.0  # SIGKILL time while STOPPING

    def close_pipe(self) -> None:
        if self.ready_fd is not None:
            os.close(self.ready_fd)
            self.ready_fd = None


def _describe_exit(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class Supervisor:
    """Run ``config.workers`` worker processes until SIGTERM/SIGINT."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.workers: dict[int, Worker] = {}
        self.generation = 0
        self.booted = False          # all initial workers have been ready
        self.stopping = False
        self.exit_code = server.EXIT_OK
        self.reload_queue: list[Worker] = []  # old workers still to replace
        self.reload_worker: Worker | None = None
        self.boot_failures = 0
        self.next_spawn = 0.0
        self._signals: list[int] = []
        self._wake_r = self._wake_w = -1

    # ---- entry point ----------------------------------------------------

    def run(self) -> int:
        config = self.config
        if isinstance(config.app, str):
            try:
                parse_import_string(config.app)
            except AppLoadError as exc:
                logger.error("Error loading app: %s", exc)
                return server.EXIT_APP_LOAD
        try:
            probe = server.bind_socket(config.host, config.port, reuse_port=True)
        except OSError as exc:
            logger.error("Could not bind to %s:%d: %s", config.host, config.port,
                         exc.strerror or exc)
            return server.EXIT_ERROR
        self._probe = probe
        if config.port == 0:
            self.config = config.replace(port=probe.getsockname()[1])
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        previous_wakeup = signal.set_wakeup_fd(self._wake_w)
        handled = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in handled}
        try:
            logger.info("Supervisor started (pid %d): starting %d workers", os.getpid(),
                        config.workers)
            for _ in range(config.workers):
                self._spawn()
            while self.workers or not self.stopping:
                self._wait()
                self._read_ready()
                self._reap()
                self._handle_signals()
                self._maintain()
            logger.info("Supervisor stopped (pid %d)", os.getpid())
            return self.exit_code
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            signal.set_wakeup_fd(previous_wakeup)
            os.close(self._wake_r)
            os.close(self._wake_w)
            for worker in self.workers.values():
                worker.close_pipe()
            probe.close()

    # ---- workers ----------------------------------------------------------

    def _spawn(self) -> Worker:
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            os.close(read_fd)
            self._run_child(write_fd)
        os.close(write_fd)
        os.set_blocking(read_fd, False)
        worker = Worker(pid, read_fd, self.generation)
        self.workers[pid] = worker
        logger.info("Started worker process (pid %d)", pid)
        return worker

    def _run_child(self, ready_fd: int) -> None:  # pragma: no cover - runs in the child
        code = server.EXIT_ERROR
        try:
            signal.set_wakeup_fd(-1)
            for sig in (signal.SIGTERM, signal.SIGCHLD):
                signal.signal(sig, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            os.close(self._wake_r)
            os.close(self._wake_w)
            self._probe.close()
            for worker in self.workers.values():
                worker.close_pipe()
            code = server.run(self.config, ready_fd=ready_fd, supervised=True)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (
                server.EXIT_OK if exc.code is None else server.EXIT_ERROR)
        except BaseException:
            traceback.print_exc()
        finally:
            try:
                logging.shutdown()
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)

    def _stop_worker(self, worker: Worker) -> None:
        if worker.state != STOPPING:
            worker.state = STOPPING
            worker.deadline = time.monotonic() + self.config.graceful_timeout + KILL_MARGIN
        try:
            os.kill(worker.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    # ---- the supervision loop ---------------------------------------------

    def _on_signal(self, sig: int, frame: Any) -> None:
        self._signals.append(sig)

    def _wait(self) -> None:
        now = time.monotonic()
        timeout = _TICK
        for worker in self.workers.values():
            if worker.state == STOPPING:
                timeout = min(timeout, worker.deadline - now)
        if self.next_spawn > now:
            timeout = min(timeout, self.next_spawn - now)
        fds = [self._wake_r] + [w.ready_fd for w in self.workers.values()
                                if w.ready_fd is not None]
        select.select(fds, [], [], max(timeout, 0.0))
        try:
            while os.read(self._wake_r, 512):
                pass
        except BlockingIOError:
            pass

    def _read_ready(self) -> None:
        for worker in list(self.workers.values()):
            if worker.ready_fd is None:
                continue
            try:
                data = os.read(worker.ready_fd, 1)
            except BlockingIOError:
                continue
            worker.close_pipe()
            if data and worker.state == BOOTING:
                self._on_ready(worker)
            # EOF without data: the worker is exiting before serving; _reap handles it

    def _on_ready(self, worker: Worker) -> None:
        worker.state = READY
        self.boot_failures = 0
        if not self.booted and sum(w.state == READY for w in self.workers.values()) \
                >= self.config.workers:
            self.booted = True
        if worker is self.reload_worker:
            self.reload_worker = None
            while self.reload_queue:
                old = self.reload_queue.pop(0)
                if old.pid in self.workers and old.state != STOPPING:
                    self._stop_worker(old)
                    break
            if not self.reload_queue:
                logger.info("Rolling restart complete")

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self.workers.pop(pid, None)
            if worker is not None:
                worker.close_pipe()
                self._on_exit(worker, status)

    def _on_exit(self, worker: Worker, status: int) -> None:
        how = _describe_exit(status)
        if worker in self.reload_queue:
            self.reload_queue.remove(worker)
        if worker.state == STOPPING or self.stopping:
            logger.info("Worker process (pid %d) stopped (%s)", worker.pid, how)
            return
        if worker.state == READY:
            logger.warning("Worker process (pid %d) died unexpectedly (%s): replacing it",
                           worker.pid, how)
            return
        # It died before serving: it failed to boot.
        code = os.waitstatus_to_exitcode(status)
        if not self.booted:
            logger.error("Worker process (pid %d) failed to boot (%s): stopping", worker.pid,
                         how)
            self.exit_code = code if code in (server.EXIT_APP_LOAD,
                                              server.EXIT_STARTUP) else server.EXIT_ERROR
            self._stop_all()
            return
        if worker is self.reload_worker:
            logger.error("New worker process (pid %d) failed to boot (%s): rolling restart "
                         "aborted, the running workers keep serving", worker.pid, how)
            self.reload_worker = None
            self.reload_queue.clear()
            return
        self.boot_failures += 1
        delay = min(0.5 * 2 ** (self.boot_failures - 1), MAX_RESPAWN_DELAY)
        self.next_spawn = time.monotonic() + delay
        logger.error("Worker process (pid %d) failed to boot (%s): retrying in %gs", worker.pid,
                     how, delay)

    def _handle_signals(self) -> None:
        while self._signals:
            sig = self._signals.pop(0)
            if sig == signal.SIGCHLD:
                continue  # _reap runs on every turn
            if sig == signal.SIGHUP:
                self._begin_reload()
            elif self.stopping:
                logger.warning("Received %s again: forcing workers to close now",
                               signal.Signals(sig).name)
                for worker in self.workers.values():
                    self._stop_worker(worker)
            else:
                logger.info("Received %s: stopping %d workers gracefully",
                            signal.Signals(sig).name, len(self.workers))
                self._stop_all()

    def _stop_all(self) -> None:
        self.stopping = True
        self.reload_queue.clear()
        self.reload_worker = None
        for worker in self.workers.values():
            self._stop_worker(worker)

    def _begin_reload(self) -> None:
        if self.stopping:
            return
        self.generation += 1
        self.reload_queue = [w for w in self.workers.values()
                             if w.state != STOPPING and w.generation < self.generation]
        self.reload_worker = None
        logger.info("Received SIGHUP: rolling restart of %d workers", len(self.reload_queue))

    def _maintain(self) -> None:
        now = time.monotonic()
        for worker in self.workers.values():
            if worker.state == STOPPING and now >= worker.deadline:
                logger.warning("Worker process (pid %d) did not stop in time: killing it",
                               worker.pid)
                try:
                    os.kill(worker.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                worker.deadline = now + _TICK * 5  # re-kill later if it somehow survives
        if self.stopping:
            return
        active = [w for w in self.workers.values() if w.state != STOPPING]
        if self.reload_queue and self.reload_worker is None and now >= self.next_spawn:
            self.reload_worker = self._spawn()
            return
        wanted = self.config.workers + (self.reload_worker is not None)
        if len(active) < wanted and now >= self.next_spawn:
            for _ in range(wanted - len(active)):
                self._spawn()
        elif len(active) > wanted:
            extra = sorted(active, key=lambda w: (w.state == READY, w.generation))
            for worker in extra[: len(active) - wanted]:
                self._stop_worker(worker)


def run(config: ServerConfig) -> int:
    """Supervise ``config.workers`` workers; return the exit code."""
    return Supervisor(config).run()
