"""Bare FastAPI endpoints taking the same body as POST /v1/chat: the ceiling for HTTP benchmarks.

`app` is written as FastAPI's tutorial writes an endpoint (`def`, run on the thread pool);
`async_app` is the same with `async def`, the cheapest FastAPI can be."""

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Body(BaseModel):
    session_id: str
    message: str


@app.post("/v1/chat")
def chat(body: Body) -> dict[str, str]:
    return {"session_id": body.session_id, "reply": body.message}


async_app = FastAPI()


@async_app.post("/v1/chat")
async def chat_async(body: Body) -> dict[str, str]:
    return {"session_id": body.session_id, "reply": body.message}
