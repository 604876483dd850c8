"""Background tasks: work that runs after the response has been sent.

Owns: ``BackgroundTask`` (one call) and ``BackgroundTasks`` (several, in
order), with Starlette's API. A response's ``background`` is called by the
engine once the response is written; calling it returns a coroutine that
the engine runs on the loop. The coroutine first yields once, so the
engine sends the response before any of the work starts; sync functions
then run in the thread pool, async ones on the loop.

Invariants: an exception in a task is logged by the engine and never
reaches the client (the response is gone already); the next tasks of a
``BackgroundTasks`` do not run after a failure, as in Starlette.

Must not know about: requests, responses, the engine's internals.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from typing import Any

from pronghorn.concurrency import is_async_callable, run_in_threadpool

__all__ = ["BackgroundTask", "BackgroundTasks", "background_observer"]

# When set in the request's context, called as each task starts; it returns the function to
# call with the task's exception (or None) when it ends: the TestClient waits for them.
background_observer: contextvars.ContextVar[
    Callable[[], Callable[[BaseException | None], None]] | None
] = contextvars.ContextVar("pronghorn.background_observer", default=None)


class BackgroundTask:
    """``func(*args, **kwargs)`` after the response: ``Response(..., background=task)``."""

    def __init__(self, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.is_async = is_async_callable(func)

    async def run(self) -> None:
        if self.is_async:
            await self.func(*self.args, **self.kwargs)
        else:
            await run_in_threadpool(self.func, *self.args, **self.kwargs)

    def __call__(self) -> Any:
        return _after_response(self.run)


class BackgroundTasks(BackgroundTask):
    """Several background tasks, run one after the other; ``add_task`` adds one.

    A handler parameter annotated ``BackgroundTasks`` receives a fresh one
    per request; its tasks run after that request's response.
    """

    def __init__(self, tasks: list[BackgroundTask] | None = None) -> None:
        self.tasks = list(tasks or ())

    def add_task(self, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        self.tasks.append(BackgroundTask(func, *args, **kwargs))

    async def run(self) -> None:
        for task in self.tasks:
            await task.run()


async def _after_response(run: Callable[[], Any]) -> None:
    observer = background_observer.get()
    finished = None if observer is None else observer()
    error: BaseException | None = None
    try:
        await asyncio.sleep(0)  # the engine flushes the response before the work starts
        await run()
    except BaseException as exc:
        error = exc
        raise
    finally:
        if finished is not None:
            finished(error)
