"""App served by tests/test_server_integration.py over real sockets."""

import asyncio
import logging
import os

from pronghorn import PlainTextResponse, Pronghorn

app = Pronghorn()
log = logging.getLogger("pronghorn.error")


@app.get("/")
def hello():
    return PlainTextResponse("Hello, world!")


@app.get("/json")
def json_route():
    return {"hello": "world", "n": [1, 2, 3]}


@app.get("/sync/{name}")
def sync_param(name: str):
    return {"sync": name}


@app.get("/async/{name}")
async def async_param(name: str):
    await asyncio.sleep(0)
    return {"async": name}


@app.post("/echo")
async def echo(request):
    return PlainTextResponse(await request.body())


@app.post("/chunks")
async def chunks(request):
    sizes = [len(chunk) async for chunk in request.stream()]
    return {"total": sum(sizes)}


@app.get("/pid")
def pid():
    return os.getpid()


@app.get("/slow")
async def slow():
    await asyncio.sleep(1)
    return PlainTextResponse("slow done")


@app.get("/sleep/{seconds}")
async def sleep(seconds: str):
    await asyncio.sleep(float(seconds))
    return PlainTextResponse("slept")


@app.get("/boom")
def boom():
    raise RuntimeError("boom")


@app.get("/big")
def big():
    return PlainTextResponse("x" * 1_000_000)


async def _started():
    log.info("app startup hook ran")


def _stopped():
    log.info("app shutdown hook ran")


app.add_event_handler("startup", _started)
app.add_event_handler("shutdown", _stopped)


def create_app():
    """Factory form, for `--factory tests.apps.basic:create_app`."""
    return app


class Holder:
    app = app  # dotted attribute form: tests.apps.basic:Holder.app
