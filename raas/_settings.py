"""Connection settings, read from the environment (``TANGO_*``) or passed explicitly."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TANGO_SANDBOX_URL = "https://integration-api.tangocard.com/raas/v2"
TANGO_PRODUCTION_URL = "https://api.tangocard.com/raas/v2"
TANGO_SANDBOX_TOKEN_URL = "https://sandbox-auth.tangocard.com/oauth/token"
TANGO_PRODUCTION_TOKEN_URL = "https://auth.tangocard.com/oauth/token"


class TangoSettings(BaseSettings):
    """Where Tango is and how to authenticate.

    Basic auth uses ``platform_name`` + ``platform_key``; OAuth client credentials use
    ``client_id`` + ``client_secret`` (+ ``token_url``). Secrets are ``SecretStr``: they never
    show in a repr, a log line or an exception.
    """

    model_config = SettingsConfigDict(env_prefix="TANGO_", extra="ignore")

    base_url: str = Field(description="RaaS v2 base URL, e.g. " + TANGO_SANDBOX_URL)
    platform_name: str | None = Field(None, description="Basic auth: the platform name")
    platform_key: SecretStr | None = Field(None, description="Basic auth: the platform key")
    client_id: str | None = Field(None, description="OAuth client credentials: the client id")
    client_secret: SecretStr | None = Field(None, description="OAuth: the client secret")
    token_url: str | None = Field(
        None, description="OAuth token URL (default: Tango's, sandbox or production to match)"
    )
    audience: str = Field("https://api.tangocard.com/", description="OAuth audience")
    scope: str = Field("raas.all", description="OAuth scope")
    customer_identifier: str | None = Field(default=None, description="Default customer")
    account_identifier: str | None = Field(default=None, description="Default account")
    timeout_seconds: float = Field(
        30.0, gt=0, description="connect, write and read timeout of each request"
    )

    requests_per_second: float | None = Field(
        default=None, description="Client-side pacing; None sends as fast as Tango allows"
    )
    max_attempts: int = Field(default=5, ge=1, description="Tango's guidance: at most 5")

    @model_validator(mode="after")
    def _one_auth_method(self) -> TangoSettings:
        basic = self.platform_name is not None and self.platform_key is not None
        oauth = self.client_id is not None and self.client_secret is not None
        if not (basic or oauth):
            raise ValueError(
                "set TANGO_PLATFORM_NAME and TANGO_PLATFORM_KEY (Basic auth) or "
                "TANGO_CLIENT_ID and TANGO_CLIENT_SECRET (OAuth)"
            )
        if oauth and not basic and not self.token_url:
            self.token_url = (
                TANGO_PRODUCTION_TOKEN_URL
                if self.base_url.rstrip("/") == TANGO_PRODUCTION_URL
                else TANGO_SANDBOX_TOKEN_URL
            )
        return self

    @property
    def uses_oauth(self) -> bool:
        return (
            self.client_id is not None
            and self.client_secret is not None
            and not (self.platform_name and self.platform_key)
        )
