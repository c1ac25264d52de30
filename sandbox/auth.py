"""Who may call: the platform's Basic credentials, or a Bearer token issued for them at
``POST /oauth/token``. Tokens live in the store, so a restart keeps them."""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from typing import Any

from .config import SandboxConfig
from .errors import ApiError
from .store import Store, insert


class Auth:
    def __init__(self, config: SandboxConfig, store: Store) -> None:
        self.config = config
        self.store = store

    def check_basic(self, name: str, key: str) -> bool:
        return secrets.compare_digest(name, self.config.platform_name) and secrets.compare_digest(
            key, self.config.platform_key
        )

    def issue_token(self, client_id: str, client_secret: str) -> dict[str, Any]:
        if not self.check_basic(client_id, client_secret):
            raise ApiError(401, "invalid client credentials")
        token = secrets.token_urlsafe(32)
        with self.store.tx() as c:
            insert(
                c, "tokens", {"token": token, "expires_at": time.time() + self.config.token_ttl_s}
            )
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.config.token_ttl_s,
            "scope": "raas.all",
        }

    def check_token(self, token: str) -> bool:
        with self.store.tx() as c:
            row = c.execute("SELECT expires_at FROM tokens WHERE token=?", (token,)).fetchone()
        return bool(row) and row["expires_at"] > time.time()

    def revoke_tokens(self) -> None:
        with self.store.tx() as c:
            c.execute("DELETE FROM tokens")

    def authorised(self, header: str) -> bool:
        """Is this ``Authorization`` header the platform's (Basic) or a live token's (Bearer)?"""
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                name, _, key = base64.b64decode(value).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            return self.check_basic(name, key)
        if scheme.lower() == "bearer" and value:
            return self.check_token(value)
        return False
