"""Sandbox settings: from the command line, the environment (``SANDBOX_*``) or code."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .faults import Faults

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "sandbox"
DEFAULT_PLATFORM_NAME = "sandbox-platform"
DEFAULT_PLATFORM_KEY = "sandbox-platform-key"

__all__ = ["DEFAULT_PLATFORM_KEY", "DEFAULT_PLATFORM_NAME", "Faults", "SandboxConfig"]


class SandboxConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SANDBOX_", extra="ignore")

    platform_name: str = DEFAULT_PLATFORM_NAME
    platform_key: str = DEFAULT_PLATFORM_KEY
    db_path: Path = Path("sandbox.db")
    seed_dir: Path = DATA_DIR
    token_ttl_s: int = 86400
    fulfil_latency_s: float = Field(0.05, ge=0, description="per line item, fast by default")
    failure_rate: float = Field(0.0, ge=0, le=1, description="seeded random delivery failures")
    failure_seed: int = 0
    fail_email_domain: str = "fail.example.com"
    max_line_items_per_order: int = 500
    requests_per_second: float | None = None
    send_retry_after: bool = True
    webhook_max_attempts: int = 6
    webhook_backoff_s: float = 0.2
    webhook_ttl_days: int = 30
    credential_canary: str = "SBXSECRET"
    tick_s: float = 0.02
    faults: Faults = Field(default_factory=Faults)
