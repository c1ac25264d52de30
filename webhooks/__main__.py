"""``python -m webhooks`` (settings from ``WEBHOOKS_*``; see the README)."""

from __future__ import annotations

import logging

import uvicorn

from .app import create_app
from .config import ReceiverSettings
from .serving import serve_options


def main() -> None:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level="INFO")
    settings = ReceiverSettings()
    print(
        f"Tango webhook receiver on http://{settings.host}:{settings.port}{settings.path} "
        f"({settings.verification}; events in {settings.db_path})",
        flush=True,
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        **serve_options(settings),
    )


if __name__ == "__main__":
    main()
