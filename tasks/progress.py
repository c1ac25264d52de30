"""Progress on the run's page: a Prefect progress artifact per step that follows the steps'
own reports (:mod:`rewards.progress`), so the card moves while orders are submitted and while
they finish, with the numbers in its description."""

from __future__ import annotations

import time
from uuid import UUID

from prefect.artifacts import create_progress_artifact, update_progress_artifact

STEPS = ("orders submitted", "orders finished")


class ProgressCards:
    """A :mod:`rewards.progress` sink: one card per step, made at 0% when this is made (in the
    flow, so the cards hang off the flow run) and updated from the tasks at most every
    ``every`` seconds (the last report of a step always lands)."""

    def __init__(self, total: int, steps: tuple[str, ...] = STEPS, every: float = 1.0) -> None:
        self.every = every
        self.cards: dict[str, UUID] = {
            step: create_progress_artifact(0.0, description=f"{step}: 0 of {total:,}")
            for step in steps
        }
        self.shown: dict[str, float] = {}

    def __call__(self, step: str, done: int, total: int) -> None:
        if step not in self.cards:
            return
        if done < total and time.monotonic() - self.shown.get(step, 0.0) < self.every:
            return
        share = 100.0 * done / total if total else 100.0
        text = f"{step}: {done:,} of {total:,}"
        update_progress_artifact(self.cards[step], share, description=text)
        self.shown[step] = time.monotonic()
