"""Receiver settings from the environment (``WEBHOOKS_*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

EVENT_NAME = "tango.async-order.status"
RESOURCE_PREFIX = "tango.async-order."


class ReceiverSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WEBHOOKS_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8780
    path: str = "/tango/webhooks"
    db_path: Path = Path("data/webhooks.db")
    verification: Literal["HMAC", "X509", "NONE"] = "HMAC"
    hmac_key: SecretStr | None = Field(None, description="base64 hmacSharedSecretKey")
    certificate_pem: str | None = Field(None, description="PEM of Tango's signing certificate")
    allow_unsigned: bool = Field(False, description="accept requests without a signature")
    max_body_bytes: int = Field(256 * 1024, gt=0)
    header_timeout_s: float = Field(
        10.0, gt=0, description="a request's line and headers must arrive within this"
    )
    body_timeout_s: float = Field(10.0, gt=0, description="and its body within this after them")
    max_connections_per_client: int = Field(
        20, ge=1, description="open connections per client address; more are closed at once"
    )
    max_connections: int = Field(
        1000, ge=1, description="open connections in all; past it new requests are answered 503"
    )
    emit_interval_s: float = 0.5
    prefect_api_url: str | None = Field(None, description="default: Prefect's own setting")
    register_url: str | None = Field(
        None, description="public URL to register with Tango as a subscription at start-up"
    )
    renew_before_days: float = 3.0
