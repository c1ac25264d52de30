"""``python -m webhooks`` (settings from ``WEBHOOKS_*``; see the README)."""

from __future__ import annotations

import logging
import sys

import uvicorn
from pydantic import ValidationError

from .app import create_app
from .config import ReceiverSettings, settings_error
from .serving import serve_options


def main() -> None:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level="INFO")
    try:
        settings = ReceiverSettings()
    except ValidationError as exc:
        sys.exit(f"webhooks: cannot start: {settings_error(exc)}")
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
