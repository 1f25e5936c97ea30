"""A bare FastAPI endpoint taking the same body as POST /v1/chat: the ceiling for HTTP benchmarks."""

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Body(BaseModel):
    session_id: str
    message: str


@app.post("/v1/chat")
def chat(body: Body) -> dict[str, str]:
    return {"session_id": body.session_id, "reply": body.message}
