"""The OpenAPI spec fuzzed with schemathesis: no route answers 500, whatever it is sent."""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from bot.faces.http.app import create_app
from bot.storage.memory import MemoryStore

app = create_app(Path(__file__).resolve().parents[2] / "config.yaml", MemoryStore())
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_route_answers_500(case: schemathesis.Case) -> None:
    response = case.call()
    assert response.status_code < 500, (
        f"{case.method} {case.path}: {response.status_code} {response.text[:300]}"
    )
