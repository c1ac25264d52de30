"""The sandbox's HTTP routes, one module per area: ``oauth``, ``accounts`` (catalog, customers,
accounts), ``orders``, ``lines``, ``webhooks``, and ``admin`` (not Tango's)."""

from __future__ import annotations

from fastapi import APIRouter

from . import accounts, admin, lines, oauth, orders, webhooks

ROUTERS: list[APIRouter] = [
    oauth.router,
    accounts.router,
    orders.router,
    lines.router,
    webhooks.router,
    admin.router,
    admin.open_router,
]
