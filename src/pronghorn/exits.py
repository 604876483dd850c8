"""Leaving yield dependencies, and what happens after the handler returns.

Owns: the stacks of entered ``yield`` dependencies (generators, sync or
async) of one request: ``unwind`` throws the handler's exception into them
(last entered first; each may replace or swallow it), ``finish`` applies
the ``Response`` parameter to the response, leaves ``scope="function"``
dependencies and schedules the rest — background tasks of a
``BackgroundTasks`` parameter, then the request-scope cleanup — to run
after the response is sent, through the response's ``background`` (which
the engine calls once the response is written).

Invariants: cleanup runs exactly once per entered generator; it still runs
when a background task failed; a dependency that swallows the handler's
exception leaves no response to send: ``DependencyError`` (a 500), as in
FastAPI. Sync generators are resumed where the request runs (in the thread
pool for threaded routes).

Must not know about: how dependencies are found or solved (it reads the
per-request state's ``stack``, ``function_stack``, ``response``,
``background`` and ``threaded``).
"""

from __future__ import annotations

import inspect
from typing import Any

from pronghorn.background import BackgroundTask, BackgroundTasks
from pronghorn.concurrency import run_in_threadpool
from pronghorn.responses import Response

__all__ = ["DependencyError", "finish", "finish_async", "leave_async", "leave_sync", "unwind",
           "unwind_async"]


class DependencyError(RuntimeError):
    """A ``yield`` dependency swallowed the handler's exception (it caught it and did not
    raise again), so there is no response to send: answered 500, as in FastAPI."""


def leave_sync(stack: list[tuple[Any, bool]], exc: BaseException | None) -> BaseException | None:
    """Resume the generators of ``stack``, last entered first, raising ``exc`` inside each
    (it may be replaced or swallowed); what is left to raise, or None."""
    while stack:
        gen, _ = stack.pop()
        try:
            if exc is None:
                next(gen)
            else:
                gen.throw(exc)
        except StopIteration:
            exc = None
        except Exception as new:
            exc = new
        else:
            exc = RuntimeError(f"dependency {gen.__qualname__} yielded more than once")
    return exc


async def leave_async(stack: list[tuple[Any, bool]], exc: BaseException | None,
                       threaded: bool = False) -> BaseException | None:
    while stack:
        gen, is_async = stack.pop()
        if not is_async:
            if threaded:
                exc = await run_in_threadpool(leave_sync, [(gen, False)], exc)
            else:
                exc = leave_sync([(gen, False)], exc)
            continue
        try:
            if exc is None:
                await gen.__anext__()
            else:
                await gen.athrow(exc)
        except StopAsyncIteration:
            exc = None
        except Exception as new:
            exc = new
        else:
            exc = RuntimeError(f"dependency {gen.__qualname__} yielded more than once")
    return exc


def _swallowed() -> DependencyError:
    return DependencyError(
        "A dependency with yield caught the handler's exception and did not raise it again, "
        "so there is no response to send: re-raise it (or raise another) in the dependency.")


def unwind(state: Any, exc: Exception) -> BaseException:
    """Throw ``exc`` into the yield dependencies entered so far (sync plans); the exception
    to answer."""
    if state is None or not (state.stack or state.function_stack):
        return exc
    result = leave_sync(state.function_stack, exc)
    result = leave_sync(state.stack, result)
    return _swallowed() if result is None else result


async def unwind_async(state: Any, exc: Exception) -> BaseException:
    if state is None or not (state.stack or state.function_stack):
        return exc
    result = await leave_async(state.function_stack, exc, state.threaded)
    result = await leave_async(state.stack, result, state.threaded)
    return _swallowed() if result is None else result


def finish(state: Any, result: Any, response: Response) -> Response:
    """After the handler: apply the ``Response`` parameter (status, headers) unless the
    handler returned a Response itself, leave ``scope="function"`` sync dependencies, and
    schedule background tasks and the cleanup of yield dependencies after the response."""
    sub = state.response
    if sub is not None and not isinstance(result, Response):
        if sub.status_code is not None:
            response.status_code = sub.status_code
        if sub.raw_headers:
            response.raw_headers.extend(sub.raw_headers)
    if state.function_stack:
        leftover = leave_sync(state.function_stack, None)
        if leftover is not None:
            raise leftover
    _schedule(state, response)
    return response


async def finish_async(state: Any, result: Any, response: Response) -> Response:
    if state.function_stack:
        leftover = await leave_async(state.function_stack, None, state.threaded)
        if leftover is not None:
            raise leftover
    return finish(state, result, response)


def _schedule(state: Any, response: Response) -> None:
    tasks = state.background
    stack = state.stack
    if not stack and (tasks is None or not tasks.tasks):
        return
    first = response.background
    if first is None and not stack:
        response.background = tasks
        return
    response.background = BackgroundTask(_after_response, first, tasks, stack, state.threaded)


async def _after_response(first: Any, tasks: BackgroundTasks | None,
                          stack: list[tuple[Any, bool]], threaded: bool) -> None:
    """Run after the response is sent: the response's own background, the tasks added
    through a BackgroundTasks parameter, then the cleanup of yield dependencies (which
    runs even when a task failed)."""
    try:
        if first is not None:
            run = getattr(first, "run", None)
            outcome = run() if run is not None else first()
            if inspect.isawaitable(outcome):
                await outcome
        if tasks is not None:
            await tasks.run()
    finally:
        leftover = await leave_async(stack, None, threaded)
        if leftover is not None:
            raise leftover
