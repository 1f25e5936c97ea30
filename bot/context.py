"""The caller's context: what a chat platform may say about the buyer's order and product.

One table for every face: HTTP bodies and dialogue files are shaped from it, and answer variants
may use its fields as `{order.courier}`-style variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextField:
    part: str  # "order" or "product"
    name: str
    max_length: int
    description: str = ""


FIELDS = (
    ContextField(part="order", name="id", max_length=64),
    ContextField(part="order", name="status", max_length=32, description="e.g. paid, shipped, signed, refunding"),
    ContextField(part="order", name="paid_at", max_length=64),
    ContextField(part="order", name="shipped_at", max_length=64),
    ContextField(part="order", name="courier", max_length=32),
    ContextField(part="order", name="tracking_no", max_length=64),
    ContextField(part="product", name="category", max_length=64,
                 description="e.g. dress, shoes: picks size charts and answers"),
    ContextField(part="product", name="name", max_length=128),
)  # fmt: skip
PARTS = ("order", "product")
# The names answers and conditions use: order.courier, product.category, …
VARIABLES = frozenset(f"{f.part}.{f.name}" for f in FIELDS)


def flatten(parts: Mapping[str, Mapping[str, object] | None]) -> dict[str, str]:
    """{"order": {"courier": "中通"}} → {"order.courier": "中通"}; empty values are left out."""
    flat: dict[str, str] = {}
    for part in PARTS:
        values = parts.get(part) or {}
        flat |= {f"{part}.{k}": str(v) for k, v in values.items() if v is not None and v != ""}
    return flat
