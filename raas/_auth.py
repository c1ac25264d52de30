"""Authentication as httpx ``Auth`` flows: Basic, and OAuth client credentials."""

from __future__ import annotations

import threading
import time
from collections.abc import Generator

import httpx
from pydantic import SecretStr

from ._errors import AuthenticationError, parse_field_errors


def basic_auth(platform_name: str, platform_key: SecretStr) -> httpx.Auth:
    return httpx.BasicAuth(platform_name, platform_key.get_secret_value())


class OAuthClientCredentials(httpx.Auth):
    """Bearer tokens from Tango's OAuth endpoint, cached until shortly before they expire.

    A 401 on an API call drops the cached token and retries once with a fresh one.
    """

    requires_response_body = True

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: SecretStr,
        *,
        audience: str = "https://api.tangocard.com/",
        scope: str = "raas.all",
        refresh_margin_seconds: float = 60.0,
        timeout_seconds: float = 30.0,
    ) -> None:
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._audience = audience
        self._scope = scope
        self._margin = refresh_margin_seconds
        self._timeout = timeout_seconds
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.tokens_fetched = 0

    def __repr__(self) -> str:
        return (
            f"OAuthClientCredentials(token_url={self._token_url!r}, client_id={self._client_id!r})"
        )

    def _fetch(self) -> None:
        response = httpx.post(
            self._token_url,
            data={
                "client_id": self._client_id,
                "client_secret": self._client_secret.get_secret_value(),
                "grant_type": "client_credentials",
                "scope": self._scope,
                "audience": self._audience,
            },
            timeout=self._timeout,
        )
        if response.status_code != 200:
            try:
                body = response.json()
            except ValueError:
                body = {}
            raise AuthenticationError(
                "OAuth token request was refused",
                http_code=response.status_code,
                request_id=(body or {}).get("requestId"),
                path=self._token_url,
                errors=parse_field_errors((body or {}).get("errors")),
            )
        data = response.json()
        self._token = data["access_token"]
        lifetime = float(data.get("expires_in", 86400))
        self._expires_at = time.monotonic() + max(lifetime - self._margin, lifetime / 2)
        self.tokens_fetched += 1

    def _current(self, *, force: bool = False) -> str:
        with self._lock:
            if force or self._token is None or time.monotonic() >= self._expires_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._current()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            with self._lock:
                stale = self._token == token
            request.headers["Authorization"] = f"Bearer {self._current(force=stale)}"
            yield request
