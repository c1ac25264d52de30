"""``sandbox``: a local server that behaves like Tango RaaS v2. No Prefect."""

from .config import Faults, SandboxConfig
from .server import SandboxServer

__all__ = ["Faults", "SandboxConfig", "SandboxServer"]
