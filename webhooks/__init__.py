"""``webhooks``: receives Tango's webhooks, verifies and persists them, and turns them into
Prefect events (open-source Prefect has no inbound webhooks)."""

from .config import ReceiverSettings
from .store import EventStore

__all__ = ["EventStore", "ReceiverSettings"]
