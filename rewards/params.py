"""The run's parameters (a pydantic model, so the Prefect UI renders a form) and the
deployment-wide settings that are not per run (where the ledger and reports live)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Tango documents no maximum per async order; our sandbox enforces 500 like the NOTES decide.
# 250 stays well below it, keeps each request small enough to retry cheaply, and still makes
# 1,000,000 rows only 4,000 orders.
DEFAULT_CHUNK = 250


class RewardsSettings(BaseSettings):
    """Per installation, from the environment (``REWARDS_*``)."""

    model_config = SettingsConfigDict(env_prefix="REWARDS_", extra="ignore")

    ledger_url: str = Field(
        "sqlite:///data/ledger.db",
        description="SQLAlchemy URL of the ledger (SQLite or PostgreSQL)",
    )
    reports_dir: Path = Field(Path("data/reports"), description="where report folders go")
    global_rate_limit: str | None = Field(
        None,
        description="name of a Prefect global concurrency limit every Tango request "
        "takes a slot of (rewards deploy creates it); shared by all workers",
    )
    inbox_dir: Path = Field(Path("data/inbox"), description="where spreadsheets are dropped")
    webhook_receiver: bool = Field(
        False,
        description="a webhook receiver (python -m webhooks) feeds Prefect events; "
        "completion_mode 'auto' then waits on them",
    )


class FulfilParams(BaseModel):
    """Send the rewards listed in one spreadsheet."""

    source_path: str = Field(description="Path of the recipient spreadsheet (.csv or .xlsx)")
    sheet_name: str | None = Field(None, description="XLSX sheet to read (default: the first)")
    customer_identifier: str | None = Field(
        None, description="Tango customer (default: TANGO_CUSTOMER_IDENTIFIER)"
    )
    account_identifier: str | None = Field(
        None, description="Tango account to charge (default: TANGO_ACCOUNT_IDENTIFIER)"
    )
    campaign: str | None = Field(
        None,
        description="Campaign for rows that name none; a new campaign sends the same "
        "reward to the same person again on purpose",
    )
    max_line_items_per_order: int = Field(
        DEFAULT_CHUNK, ge=1, le=5000, description="Line items per async order"
    )
    submit_concurrency: int = Field(4, ge=1, le=32, description="Orders submitted at once")
    fan_out: int = Field(
        0,
        ge=0,
        le=64,
        description="Spread the orders over this many send-orders runs on the work pool "
        "(the send-orders/fan-out deployment; set it to the number of workers); 0 sends "
        "them from this run",
    )
    completion_mode: Literal["auto", "poll", "webhook"] = Field(
        "auto",
        description="How to learn that orders finished: 'webhook' waits on the receiver's "
        "Prefect events (with a fallback poll), 'poll' polls, 'auto' uses webhooks when "
        "REWARDS_WEBHOOK_RECEIVER is set",
    )
    timeout_seconds: float = Field(3600, gt=0, description="Give up waiting after this long")
    poll_interval_seconds: float = Field(
        2.0,
        gt=0,
        description="Polling: first pause between polls (grows to 30 s); webhook mode: the "
        "fallback poll interval",
    )
    dry_run: bool = Field(False, description="Validate and preview the cost; send nothing")
    all_or_nothing: bool = Field(
        False, description="Any rejected row stops the run before anything is sent"
    )
    approval_threshold: Decimal | None = Field(
        None, ge=0, description="Pause for approval in the UI when the cost is above this"
    )
    approval_timeout_seconds: int = Field(
        3600, ge=1, description="Without an answer by then, nothing is sent"
    )
    default_phone_country: str | None = Field(
        "US", description="Country for phone numbers written without +country code"
    )
    output_dir: str | None = Field(
        None, description="Report folder (default: REWARDS_REPORTS_DIR/<batch>)"
    )
