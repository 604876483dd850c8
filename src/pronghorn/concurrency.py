"""Running blocking code from the event loop.

Owns: ``run_in_threadpool`` (a sync callable in the loop's default
executor, in a copy of the caller's context, so contextvars set by the
request are visible in the thread) and ``is_async_callable`` (what decides,
once at registration, whether a callable's result must be awaited).

Must not know about: requests, responses, routing.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["is_async_callable", "run_in_threadpool"]


def is_async_callable(obj: Any) -> bool:
    """True for coroutine functions, partials of them and instances with an async __call__."""
    while isinstance(obj, functools.partial):
        obj = obj.func
    if inspect.iscoroutinefunction(obj):
        return True
    if inspect.isfunction(obj) or inspect.ismethod(obj):
        return False
    return inspect.iscoroutinefunction(getattr(obj, "__call__", None))


async def run_in_threadpool(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a blocking callable in the loop's default thread pool, in the current context."""
    loop = asyncio.get_running_loop()
    ctx = contextvars.copy_context()
    call = functools.partial(ctx.run, func, *args, **kwargs)
    return await loop.run_in_executor(None, call)
