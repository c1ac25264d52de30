"""Progress on the run's page: a Prefect progress artifact per step that follows the steps'
own reports (:mod:`rewards.progress`), so the card moves while orders are submitted and while
they finish, with the numbers in its description."""

from __future__ import annotations

import time
from uuid import UUID

from prefect.artifacts import create_progress_artifact, update_progress_artifact


class ProgressCards:
    """A :mod:`rewards.progress` sink: one card per step, updated at most every
    ``every`` seconds (the last report of a step always lands)."""

    def __init__(self, every: float = 1.0) -> None:
        self.every = every
        self.cards: dict[str, UUID] = {}
        self.shown: dict[str, float] = {}

    def __call__(self, step: str, done: int, total: int) -> None:
        share = 100.0 * done / total if total else 100.0
        text = f"{step}: {done:,} of {total:,}"
        if step not in self.cards:
            self.cards[step] = create_progress_artifact(share, description=text)
        elif done >= total or time.monotonic() - self.shown.get(step, 0.0) >= self.every:
            update_progress_artifact(self.cards[step], share, description=text)
        else:
            return
        self.shown[step] = time.monotonic()
