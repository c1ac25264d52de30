"""Sandbox settings: from the command line, the environment (``SANDBOX_*``) or code."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "sandbox"
DEFAULT_PLATFORM_NAME = "sandbox-platform"
DEFAULT_PLATFORM_KEY = "sandbox-platform-key"


class Faults(BaseModel):
    """Faults injected into ``/raas/v2`` requests and webhook deliveries, reproducible by seed."""

    seed: int = 0
    server_error_rate: float = Field(0.0, ge=0, le=1, description="5xx before processing")
    latency_ms: int = Field(0, ge=0, description="added to every API request")
    commit_then_drop_rate: float = Field(
        0.0, ge=0, le=1, description="mutating request processed, then its answer is lost"
    )
    commit_then_drop_mode: str = Field(
        "error",
        pattern="^(error|delay)$",
        description="'error': answer 504 after committing; 'delay': answer after drop_delay_s",
    )
    drop_delay_s: float = 2.0
    drop_next: int = Field(0, ge=0, description="drop the answers of the next N mutating requests")
    orders_before_outage: int | None = Field(
        None, ge=0, description="after N more orders are created, POST /asyncOrders answers 503"
    )
    rate_limit_burst_rate: float = Field(0.0, ge=0, le=1, description="spurious 429s")
    webhook_drop_rate: float = Field(0.0, ge=0, le=1)
    webhook_duplicate_rate: float = Field(0.0, ge=0, le=1)
    webhook_reorder_window_s: float = Field(0.0, ge=0, description="random delivery delay")


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
