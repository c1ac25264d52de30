"""``python -m webhooks`` (settings from ``WEBHOOKS_*``; see the README)."""

from __future__ import annotations

import uvicorn

from .app import create_app
from .config import ReceiverSettings


def main() -> None:
    settings = ReceiverSettings()
    print(
        f"Tango webhook receiver on http://{settings.host}:{settings.port}{settings.path} "
        f"({settings.verification}; events in {settings.db_path})",
        flush=True,
    )
    # short keep-alive and header limits blunt slow clients; Tango sends small bodies
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        timeout_keep_alive=5,
        limit_concurrency=200,
    )


if __name__ == "__main__":
    main()
