"""An app whose startup hook fails (the server must exit with code 3)."""

from pronghorn import Pronghorn


async def connect_database():
    raise ConnectionError("database unreachable")


app = Pronghorn(on_startup=[connect_database])
