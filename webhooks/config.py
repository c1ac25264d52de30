"""Receiver settings from the environment (``WEBHOOKS_*``), checked when they are read, so a
key or certificate that could never verify anything stops the start, not every request."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Literal, Self

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EVENT_NAME = "tango.async-order.status"
RESOURCE_PREFIX = "tango.async-order."


class ReceiverSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WEBHOOKS_", extra="ignore")

    host: str = Field("127.0.0.1", description="address the receiver listens on")
    port: int = Field(8780, description="port the receiver listens on")
    path: str = Field("/tango/webhooks", description="path Tango POSTs its events to")
    db_path: Path = Field(Path("data/webhooks.db"), description="the receiver's event store")
    verification: Literal["HMAC", "X509", "NONE"] = Field(
        "HMAC", description="how deliveries are signed: HMAC, X509 or NONE"
    )
    hmac_key: SecretStr | None = Field(None, description="base64 hmacSharedSecretKey")
    certificate_pem: str | None = Field(None, description="PEM of Tango's signing certificate")
    allow_unsigned: bool = Field(False, description="accept requests without a signature")
    max_body_bytes: int = Field(256 * 1024, gt=0, description="largest body accepted (413)")
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
    emit_interval_s: float = Field(0.5, description="how often stored events go to Prefect")
    prefect_api_url: str | None = Field(None, description="default: Prefect's own setting")
    register_url: str | None = Field(
        None, description="public URL to register with Tango as a subscription at start-up"
    )
    renew_before_days: float = Field(
        3.0, description="renew the Tango subscription this long before it expires"
    )

    health_token: SecretStr | None = Field(
        None, description="bearer token that shows the counts on /health (else just 'ok')"
    )
    docs: bool = Field(False, description="serve /docs, /redoc and /openapi.json")

    @field_validator("hmac_key")
    @classmethod
    def _base64_key(cls, key: SecretStr | None) -> SecretStr | None:
        try:
            ok = key is None or base64.b64decode(key.get_secret_value(), validate=True)
        except ValueError:
            ok = False
        if not ok:
            raise ValueError("not a base64 key")
        return key

    @field_validator("certificate_pem")
    @classmethod
    def _pem_certificate(cls, pem: str | None) -> str | None:
        try:
            key = pem and x509.load_pem_x509_certificate(pem.encode()).public_key()
        except ValueError:
            raise ValueError("not a PEM X.509 certificate") from None
        if key is not None and not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("the certificate holds no RSA key (Tango signs with RSA)")
        return pem

    @model_validator(mode="after")
    def _can_verify(self) -> Self:
        if self.verification == "HMAC" and self.hmac_key is None:
            raise ValueError("WEBHOOKS_VERIFICATION=HMAC needs WEBHOOKS_HMAC_KEY")
        if self.verification == "X509" and self.certificate_pem is None:
            raise ValueError("WEBHOOKS_VERIFICATION=X509 needs WEBHOOKS_CERTIFICATE_PEM")
        return self


def settings_error(exc: ValidationError) -> str:
    """A settings error as one line naming the variables."""
    parts = []
    for e in exc.errors():
        msg = e["msg"].removeprefix("Value error, ")
        parts.append(f"WEBHOOKS_{str(e['loc'][0]).upper()}: {msg}" if e["loc"] else msg)
    return "; ".join(parts)
