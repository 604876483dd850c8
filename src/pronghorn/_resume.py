"""Finishing a handler coroutine that suspended while the C engine drove it.

The engine runs an ``async def`` handler eagerly with ``PyIter_Send``; most
handlers finish without ever waiting, and pay for no Task. When one does
wait, the engine hands the half-run coroutine and the value it yielded (the
future it waits on, or None for a bare yield) to :func:`resume`, which wraps
both in a Task running in the request's own context.
"""
from __future__ import annotations

import collections.abc

_NOTHING = object()


class _Resumed:
    """Coroutine protocol over a started coroutine: first re-yields what it
    yielded to the engine, then delegates every send/throw to it."""

    __slots__ = ("_coro", "_first")

    def __init__(self, coro, first):
        self._coro = coro
        self._first = first

    def send(self, value):
        first = self._first
        if first is not _NOTHING:
            self._first = _NOTHING
            return first
        return self._coro.send(value)

    def throw(self, *exc_info):
        self._first = _NOTHING
        return self._coro.throw(*exc_info)

    def close(self):
        self._first = _NOTHING
        return self._coro.close()

    def __await__(self):
        return self

    def __iter__(self):
        return self

    def __next__(self):
        return self.send(None)


collections.abc.Coroutine.register(_Resumed)


def resume(coro, yielded, context, loop):
    """Continue ``coro`` (which just yielded ``yielded``) in a Task; returns the Task."""
    return loop.create_task(_Resumed(coro, yielded), context=context)
