import base64
import hashlib
import hmac
import json

import pytest

from raas.webhooks import (
    SignatureError,
    new_hmac_key,
    new_x509_pair,
    parse_async_order_event,
    sign_hmac,
    sign_x509,
    verify_hmac,
    verify_x509,
)

BODY = json.dumps({"eventId": "e1", "revision": 3, "eventData": {"status": "SUCCESSFUL"}}).encode()


def test_hmac_signature_is_base64_hmac_sha256_with_the_decoded_key() -> None:
    key = new_hmac_key()
    expected = base64.b64encode(
        hmac.new(base64.b64decode(key), BODY, hashlib.sha256).digest()
    ).decode()
    assert sign_hmac(BODY, key) == expected
    verify_hmac(BODY, expected, key)


def test_hmac_accepts_the_hex_form_too() -> None:
    key = new_hmac_key()
    hex_sig = hmac.new(base64.b64decode(key), BODY, hashlib.sha256).hexdigest()
    verify_hmac(BODY, hex_sig, key)


@pytest.mark.parametrize(
    ("body", "make_sig", "why"),
    [
        (BODY.replace(b"SUCCESSFUL", b"FAILED"), lambda k: sign_hmac(BODY, k), "does not match"),
        (BODY, lambda k: sign_hmac(BODY, new_hmac_key()), "does not match"),
        (BODY, lambda k: None, "missing"),
        (BODY, lambda k: "not-a-signature!!", "does not match"),
    ],
    ids=["tampered-body", "wrong-key", "unsigned", "garbage"],
)
def test_hmac_rejects(body: bytes, make_sig, why: str) -> None:
    key = new_hmac_key()
    with pytest.raises(SignatureError, match=why):
        verify_hmac(body, make_sig(key), key)


def test_x509_signature_round_trip_and_rejections() -> None:
    key_pem, cert_pem = new_x509_pair()
    signature = sign_x509(BODY, key_pem)
    verify_x509(BODY, signature, cert_pem)
    with pytest.raises(SignatureError):
        verify_x509(BODY + b" ", signature, cert_pem)  # tampered body
    _, other_cert = new_x509_pair()
    with pytest.raises(SignatureError):
        verify_x509(BODY, signature, other_cert)  # signed by someone else
    with pytest.raises(SignatureError, match="missing"):
        verify_x509(BODY, "", cert_pem)
    with pytest.raises(SignatureError, match="PEM"):
        verify_x509(BODY, signature, "not a certificate")


def _event(**data_overrides: object) -> dict:
    data = {
        "externalRefID": "batch-1",
        "status": "PARTIALFAILED",
        "totalLineItems": 3,
        "failedLineItems": 1,
        "successfulLineItems": 2,
        "referenceOrderId": "RA1",
        "accountIdentifier": "acct1",
        "customerIdentifier": "cust1",
    }
    data.update(data_overrides)
    return {
        "eventId": "e-1",
        "revision": 7,
        "eventType": "AsyncOrderStatus",
        "categories": ["orders"],
        "eventOccurredAt": "2026-11-28T10:00:00Z",
        "eventData": data,
    }


def test_parse_async_order_event_current_shape() -> None:
    event = parse_async_order_event(_event())
    assert (event.externalRefID, event.status, event.revision) == ("batch-1", "PARTIALFAILED", 7)
    assert (event.failedLineItems, event.successfulLineItems) == (1, 2)
    assert event.referenceOrderId == "RA1"


def test_parse_async_order_event_older_variant() -> None:
    raw = _event()
    del raw["eventType"]
    raw["eventTypes"] = ["AsyncOrderStatus"]
    raw["eventData"]["referenceOrderID"] = raw["eventData"].pop("referenceOrderId")
    event = parse_async_order_event(raw)
    assert event.eventType == "AsyncOrderStatus"
    assert event.referenceOrderId == "RA1"


@pytest.mark.parametrize(
    "raw",
    [
        [],
        {"eventId": "x", "revision": 1},
        {**_event(), "eventType": "LowBalance"},
        {**_event(), "revision": None},
        _event(status=None),
    ],
    ids=["not-object", "no-data", "other-type", "no-revision", "no-status"],
)
def test_parse_async_order_event_rejects(raw: object) -> None:
    with pytest.raises(ValueError):
        parse_async_order_event(raw)  # type: ignore[arg-type]
