"""What every benchmark app shares: the texts, the item schema and the 1,000 routes."""

from __future__ import annotations

PLAINTEXT = "Hello, world!"
MESSAGE = {"message": PLAINTEXT}
N_ROUTES = 1000
# The route hit by the 1,000-routes scenario: a parameter route in the middle of the table,
# the average case for the routers that scan their routes in order (Starlette, FastAPI).
HIT_ROUTE = 501


def many_routes() -> list[tuple[int, str | None]]:
    """(i, parameter name or None) for ``/route{i}/info`` (even i) and ``/route{i}/{item_id}``."""
    return [(i, "item_id" if i % 2 else None) for i in range(N_ROUTES)]


def item_summary(name: str, quantity: int, tags: list[str]) -> dict:
    return {"name": name, "quantity": quantity, "tags": len(tags)}
