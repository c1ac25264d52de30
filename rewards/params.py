"""Settings per installation (``REWARDS_*``) and the typed options a run's parameters become.

The flow's parameters are declared once, in ``flows/fulfil_rewards.py`` (that is the form the
Prefect UI renders); the flow turns them into these values for the steps.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, SecretStr, WithJsonSchema
from pydantic_settings import BaseSettings, SettingsConfigDict

from .summary import CostPreview

# Tango documents no maximum per async order; our sandbox enforces 500 like the NOTES decide.
# 250 stays well below it, keeps each request small enough to retry cheaply, and still makes
# 1,000,000 rows only 4,000 orders.
DEFAULT_CHUNK = 250

# Money in a form: a plain number field in the Prefect UI (not a number-or-text toggle),
# a Decimal in the code.
Money = Annotated[Decimal, Field(ge=0, decimal_places=2), WithJsonSchema({"type": "number"})]
# the run form's numbers, bounded as types (not in the parameters' defaults): Prefect enforces
# them when a run is created and the form shows them as the field's minimum and maximum
DAY = 86_400
Seconds = Annotated[float, Field(gt=0, le=7 * DAY)]  # waits for Tango, polls
ApprovalSeconds = Annotated[int, Field(ge=1, le=30 * DAY)]
LinesPerOrder = Annotated[int, Field(ge=1, le=5000)]
Concurrency = Annotated[int, Field(ge=1, le=32)]
Shares = Annotated[int, Field(ge=0, le=64)]


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
    approval_threshold: Decimal | None = Field(
        None,
        ge=0,
        description="installation-wide approval floor: any run costing more pauses for "
        "approval, whatever its own parameters say",
    )
    reports_url: str | None = Field(
        None,
        description="public base URL of the report file server (rewards serve starts one at "
        "http://127.0.0.1:8790 unless this is set); links on a run's page point there",
    )
    reports_key: SecretStr | None = Field(
        None,
        description="key that signs report links, URL-safe base64 of 32 random bytes (unset: "
        "rewards serve makes one and keeps it in the reports folder's .links-key; set it when "
        "several machines share one file server)",
    )
    reports_link_hours: float = Field(
        12, gt=0, le=24, description="how long a report link on a run's page works"
    )
    reports_port: int = Field(8790, description="port of the file server rewards serve starts")
    takeover_grace_seconds: float = Field(
        120,
        ge=0,
        description="how long after a dead run's hold expired its unsent orders are still left "
        "to it (a request it sent may still be on its way) before another file takes its rows",
    )
    silent_run_seconds: int = Field(
        90,
        gt=30,
        description="a deployment run with no heartbeat for this long is marked Crashed (the "
        "automation rewards serve and rewards deploy create)",
    )
    lease_seconds: float = Field(
        300,
        gt=0,
        description="how long a run's hold on its unsent orders lasts without renewal; after "
        "a crash, another file containing the same rows takes them over once it expires",
    )


class CompletionMode(StrEnum):
    AUTO = "auto"
    POLL = "poll"
    WEBHOOK = "webhook"


class SendOptions(BaseModel):
    """How a run sends its orders and waits for them."""

    submit_concurrency: int = Field(4, ge=1, le=32)
    fan_out: int = Field(0, ge=0, le=64)
    completion_mode: CompletionMode = CompletionMode.POLL  # resolved: never AUTO here
    timeout_seconds: float = Field(3600, gt=0)
    poll_interval_seconds: float = Field(2.0, gt=0)


class Approval(BaseModel):
    """When a run pauses for a person to approve it."""

    threshold: Decimal | None = None  # the run's own, if any
    floor: Decimal | None = None  # the installation's (REWARDS_APPROVAL_THRESHOLD)
    timeout_seconds: int = 3600

    @property
    def limit(self) -> Decimal | None:
        """The lower of the two: a run's parameters can ask for more approval, never less."""
        set_ = [t for t in (self.threshold, self.floor) if t is not None]
        return min(set_) if set_ else None

    def needed(self, cost: Decimal) -> bool:
        return self.limit is not None and cost > self.limit

    def ahead(self, cost: CostPreview, doing: str = "sending them") -> str | None:
        """What a dry run tells of the approval the real run will wait for, if any."""
        if not cost.rows or not self.needed(cost.cost):
            return None
        return (
            f"{doing} will wait for approval: {cost.cost:,.2f} {cost.currency} is above "
            f"the threshold of {self.limit:,.2f} {cost.currency}"
        )

    def overruled(self) -> str | None:
        """What to say when the run asked for less approval than the team's threshold."""
        if self.threshold is None or self.floor is None or self.threshold <= self.floor:
            return None
        return (
            f"this run's approval threshold {self.threshold} is above the team's "
            f"{self.floor} (REWARDS_APPROVAL_THRESHOLD): the team's applies"
        )


def phone_region(value: str) -> str:
    """``value`` as a region phone numbers are read in (``US``, ``GB``...); a RewardsError
    naming it otherwise (``XX`` would leave every national number unreadable, silently)."""
    import phonenumbers

    from .errors import RewardsError

    region = value.strip().upper()
    if not phonenumbers.country_code_for_region(region):
        raise RewardsError(
            f"{value!r} is not a country phone numbers can be read in: use two letters, "
            "e.g. US, GB or DE"
        )
    return region
