"""The smallest pronghorn app: `pronghorn run examples.hello:app` (or `make run`)."""

from pronghorn import PlainTextResponse, Pronghorn

app = Pronghorn()


@app.get("/")
def hello():
    return PlainTextResponse("Hello, world!")


@app.get("/json")
def json():
    return {"message": "Hello, world!"}


@app.get("/users/{user_id}")
async def get_user(user_id: str):
    return {"user_id": user_id}


@app.post("/echo")
async def echo(request):
    body = await request.body()
    return {"received": len(body), "body": body.decode("utf-8", "replace")}
