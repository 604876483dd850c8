"""An app whose lifespan context fails before it yields (the server must exit with code 3)."""

import contextlib

from pronghorn import Pronghorn


@contextlib.asynccontextmanager
async def lifespan(app):
    raise ConnectionError("cache unreachable")
    yield {}  # pragma: no cover


app = Pronghorn(lifespan=lifespan)
