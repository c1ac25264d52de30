import pytest
from pydantic import SecretStr

from raas import (
    AuthenticationError,
    InsufficientFundsError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TangoSettings,
)
from raas._errors import from_response
from raas._resilience import RetryPolicy


def test_error_info_maps_to_the_right_class_and_message_names_status_and_request_id() -> None:
    body = {
        "requestId": "req-123",
        "httpCode": 400,
        "message": "Validation failed",
        "errors": [{"path": "lineItems[0].utid", "code": "Pattern", "message": "bad utid"}],
    }
    err = from_response(400, body, path="/asyncOrders")
    assert isinstance(err, InvalidRequestError)
    assert "HTTP 400" in str(err) and "req-123" in str(err)
    assert err.errors[0].field == "lineItems[0].utid"
    assert "lineItems[0].utid [Pattern]: bad utid" in str(err)


def test_error_code_variant_is_understood() -> None:
    err = from_response(
        404,
        {"errorCode": "NOT_FOUND", "errorMessage": "no such order"},
        path="/x",
        header_request_id="hdr-9",
    )
    assert isinstance(err, NotFoundError)
    assert "NOT_FOUND: no such order" in str(err) and "hdr-9" in str(err)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, AuthenticationError),
        (402, InsufficientFundsError),
        (429, RateLimitError),
        (500, ServerError),
        (503, ServerError),
        (422, InvalidRequestError),
    ],
)
def test_status_classes(status: int, cls: type) -> None:
    err = from_response(status, None, path="/p", retry_after=1.5)
    assert isinstance(err, cls)
    assert f"HTTP {status}" in str(err)
    if cls is RateLimitError:
        assert err.retry_after == 1.5


def test_backoff_grows_and_honours_retry_after() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (6, 8.0)]:
        d = policy.delay(attempt)
        assert ceiling / 2 <= d <= ceiling
    assert policy.delay(1, retry_after=3.0) == 3.0
    assert policy.delay(1, retry_after=99.0) == 8.0


def test_settings_need_one_auth_method_and_hide_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="TANGO_PLATFORM_NAME"):
        TangoSettings(base_url="http://x")
    monkeypatch.setenv("TANGO_BASE_URL", "http://tango.invalid/raas/v2")
    monkeypatch.setenv("TANGO_PLATFORM_NAME", "acme")
    monkeypatch.setenv("TANGO_PLATFORM_KEY", "very-secret-key")
    settings = TangoSettings()
    assert isinstance(settings.platform_key, SecretStr)
    assert "very-secret-key" not in repr(settings) and "very-secret-key" not in str(settings)


def test_oauth_settings_default_to_the_matching_token_url() -> None:
    s = TangoSettings(
        base_url="https://api.tangocard.com/raas/v2", client_id="id", client_secret="s3cret"
    )
    assert s.uses_oauth and s.token_url == "https://auth.tangocard.com/oauth/token"
    s = TangoSettings(
        base_url="https://integration-api.tangocard.com/raas/v2",
        client_id="id",
        client_secret="s3cret",
    )
    assert s.token_url == "https://sandbox-auth.tangocard.com/oauth/token"


def test_a_refusal_that_names_insufficient_funds_is_that_error_whatever_its_status() -> None:
    body = {"message": "no money", "errors": [{"path": "amount", "code": "INSUFFICIENT_FUNDS"}]}
    for status in (400, 422):
        err = from_response(status, body, path="/lineItems/x/reissue")
        assert isinstance(err, InsufficientFundsError) and f"HTTP {status}" in str(err)
    assert isinstance(from_response(422, {"errors": []}, path="/x"), InvalidRequestError)
