"""Webhook payload signatures and ``AsyncOrderStatus`` events: pure functions, no I/O.

``X-Signed-Payload`` (NOTES.md): HMAC = base64(HMAC-SHA256(raw body)) with the key being the
base64-decoded ``hmacSharedSecretKey`` (hex signatures accepted too); X.509 = base64 of an
RSA PKCS#1 v1.5 SHA-256 signature over the raw body. Each verifier has a signing twin, used
by the sandbox and the tests.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
from datetime import datetime
from typing import Annotated, Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import BaseModel, ConfigDict, Field, Strict

SIGNATURE_HEADER = "X-Signed-Payload"


class SignatureError(ValueError):
    """The payload's signature is missing, malformed or does not match."""


def _hmac_key(shared_secret_key: str) -> bytes:
    try:
        return base64.b64decode(shared_secret_key, validate=True)
    except ValueError as exc:  # binascii.Error, or a non-ASCII character
        raise SignatureError("hmacSharedSecretKey is not valid base64") from exc


def sign_hmac(body: bytes, shared_secret_key: str) -> str:
    """The ``X-Signed-Payload`` value Tango would send for ``body``."""
    digest = hmac.new(_hmac_key(shared_secret_key), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_hmac(body: bytes, signature: str | None, shared_secret_key: str) -> None:
    """Raise :class:`SignatureError` unless ``signature`` is the HMAC of ``body``.

    Compared in constant time; base64 (our convention) and hex forms are both accepted."""
    if not signature:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    expected = hmac.new(_hmac_key(shared_secret_key), body, hashlib.sha256).digest()
    candidates = []
    with contextlib.suppress(ValueError):  # binascii.Error, or a non-ASCII character
        candidates.append(base64.b64decode(signature.strip(), validate=True))
    with contextlib.suppress(ValueError):
        candidates.append(bytes.fromhex(signature.strip()))
    # compare_digest on every candidate, so timing does not reveal which form matched
    matched = [hmac.compare_digest(c, expected) for c in candidates]
    if not any(matched):
        raise SignatureError("HMAC signature does not match the payload")


def new_hmac_key(nbytes: int = 32) -> str:
    """A fresh ``hmacSharedSecretKey`` (base64)."""
    import secrets

    return base64.b64encode(secrets.token_bytes(nbytes)).decode("ascii")


def sign_x509(body: bytes, private_key_pem: bytes) -> str:
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SignatureError("X.509 signing needs an RSA private key")
    signature = key.sign(body, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def verify_x509(body: bytes, signature: str | None, certificate_pem: str | bytes) -> None:
    """Raise :class:`SignatureError` unless ``signature`` was made over ``body`` by the
    private key of ``certificate_pem``."""
    if not signature:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    pem = certificate_pem.encode() if isinstance(certificate_pem, str) else certificate_pem
    try:
        public_key = x509.load_pem_x509_certificate(pem).public_key()
    except ValueError as exc:
        raise SignatureError("signing certificate is not a valid PEM X.509 certificate") from exc
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise SignatureError("signing certificate does not hold an RSA key")
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
        public_key.verify(raw, body, padding.PKCS1v15(), hashes.SHA256())
    except (ValueError, InvalidSignature) as exc:  # ValueError: not base64, or not ASCII
        raise SignatureError("X.509 signature does not match the payload") from exc


def new_x509_pair(common_name: str = "tango-sandbox-webhooks") -> tuple[bytes, str]:
    """A private key (PEM) and a self-signed certificate (PEM) for tests and the sandbox."""
    import datetime as dt

    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


# Tango's revision and counts are int64 (OpenAPI): a JSON integer, never a float or a string,
# so 1e400 or 10**20 is refused here rather than overflowing a conversion or SQLite later.
Int64 = Annotated[int, Strict(), Field(ge=0, le=2**63 - 1)]


class AsyncOrderStatusEvent(BaseModel):
    """An ``AsyncOrderStatus`` webhook event, normalised."""

    model_config = ConfigDict(frozen=True)

    eventId: str
    revision: Int64
    eventType: str
    categories: list[str]
    eventOccurredAt: datetime | None
    externalRefID: str
    status: str
    totalLineItems: Int64 | None
    failedLineItems: Int64 | None
    successfulLineItems: Int64 | None
    referenceOrderId: str | None
    accountIdentifier: str | None
    customerIdentifier: str | None


def parse_async_order_event(payload: dict[str, Any]) -> AsyncOrderStatusEvent:
    """Parse the event leniently in its shape: ``eventType`` or ``eventTypes`` (older page),
    ``referenceOrderId`` or ``referenceOrderID``; strictly in its numbers (``revision`` and
    counts are JSON integers within int64). Raises ``ValueError`` if it is not one."""
    if not isinstance(payload, dict):
        raise ValueError("event is not a JSON object")
    event_type = payload.get("eventType")
    if event_type is None:
        types = payload.get("eventTypes")
        event_type = types[0] if isinstance(types, list) and types else types
    data = payload.get("eventData")
    if not isinstance(data, dict):
        raise ValueError("event has no eventData object")
    for required in ("eventId", "revision"):
        if payload.get(required) in (None, ""):
            raise ValueError(f"event has no {required}")
    if not data.get("externalRefID") or not data.get("status"):
        raise ValueError("eventData needs externalRefID and status")
    if event_type not in (None, "AsyncOrderStatus"):
        raise ValueError(f"not an AsyncOrderStatus event: {event_type!r}")

    return AsyncOrderStatusEvent(
        eventId=str(payload["eventId"]),
        revision=payload["revision"],
        eventType="AsyncOrderStatus",
        categories=list(payload.get("categories") or []),
        eventOccurredAt=payload.get("eventOccurredAt"),
        externalRefID=str(data["externalRefID"]),
        status=str(data["status"]),
        totalLineItems=data.get("totalLineItems"),
        failedLineItems=data.get("failedLineItems"),
        successfulLineItems=data.get("successfulLineItems"),
        referenceOrderId=data.get("referenceOrderId") or data.get("referenceOrderID"),
        accountIdentifier=data.get("accountIdentifier"),
        customerIdentifier=data.get("customerIdentifier"),
    )
