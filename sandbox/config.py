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

    platform_name: str = Field(DEFAULT_PLATFORM_NAME, description="platform name it accepts")
    platform_key: str = Field(DEFAULT_PLATFORM_KEY, description="platform key it accepts")
    db_path: Path = Field(Path("sandbox.db"), description="its SQLite state (orders, balances)")
    seed_dir: Path = Field(DATA_DIR, description="catalog and accounts it starts with")
    token_ttl_s: int = Field(86400, description="OAuth token lifetime, seconds")
    fulfil_latency_s: float = Field(0.05, ge=0, description="per line item, fast by default")
    failure_rate: float = Field(0.0, ge=0, le=1, description="seeded random delivery failures")
    failure_seed: int = Field(0, description="seed of those failures")
    fail_email_domain: str = Field(
        "fail.example.com", description="emails at this domain always fail delivery"
    )
    fail_mobile_number: str = Field(
        "+14155550199", description="texts and WhatsApp messages to it always fail delivery"
    )
    max_line_items_per_order: int = Field(500, description="larger orders are refused (400)")
    requests_per_second: float | None = Field(None, description="rate limit (429 above it)")
    send_retry_after: bool = Field(True, description="Retry-After on 429 answers")
    webhook_max_attempts: int = Field(6, description="webhook deliveries tried per event")
    webhook_backoff_s: float = Field(0.2, description="first wait between webhook attempts")
    webhook_ttl_days: int = Field(30, description="webhook subscriptions expire after this")
    credential_canary: str = Field(
        "SBXSECRET", description="text inside every reward code (the secrecy scans look for it)"
    )
    tick_s: float = Field(0.02, description="how often fulfilment and deliveries move")
    faults: Faults = Field(
        default_factory=Faults, description="faults injected at start (JSON; /sandbox/faults)"
    )
