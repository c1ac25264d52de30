"""The fulfil-rewards steps as Prefect tasks: each calls one function of ``rewards.steps``.

No Prefect retries here: the client already retries what is safe to retry (Tango's rules),
and stacking retries would only multiply attempts. Caching is off: the ledger, not Prefect,
decides what has been done. An expected stop (a file that cannot be used, Tango failing
after every retry) ends its task Failed with one line, see :func:`step`.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

from prefect import get_run_logger, runtime, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State
from prefect.exceptions import CancelledRun
from prefect.states import Failed

from raas import Account, Catalog, RaasError
from rewards import progress, sending, steps
from rewards.errors import RewardsError, explain
from rewards.ledger import Claimed, LeaseKeeper
from rewards.params import RewardsSettings
from rewards.planning import Plan
from rewards.reading import Sheet
from rewards.reconcile import Mode, Reconciliation
from rewards.summary import CostPreview, warning_lines
from rewards.validation import Validated, ValidationOptions, validate

from .progress import ProgressCards
from .tango import client_for, ledger, tango_client

P = ParamSpec("P")
R = TypeVar("R")


class _QuietCompletions(logging.Filter):
    """Every task's "Finished in state Completed()" drowns the run's story in its log (50 of
    56 lines of a 2,000-row run); and a step that stops the run has said why in one line
    already (Prefect would add the same with an empty traceback, "NoneType: None")."""

    def filter(self, record: logging.LogRecord) -> bool:
        said = record.getMessage()
        return not said.startswith(("Finished in state Completed", "Task run failed with state"))


logging.getLogger("prefect.task_runs").addFilter(_QuietCompletions())


class _ExpectedEndings(logging.Filter):
    """A deployment's run that ends as the run chose (stopped at a gate, rejected, refused by
    Tango, an upload another run has) has said why in its state message and one log line;
    Prefect's engine would add an ERROR with the traceback of the state's data. Ctrl-C in the
    terminal that serves the deployments: Prefect has already logged "Crash detected! ...
    aborted by an interrupt signal"; the traceback of where the run was sleeping adds nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        said = record.getMessage()
        if said.startswith("Engine execution exited with unexpected"):
            return not isinstance(error, RewardsError | RaasError | CancelledRun)
        if said.startswith("Engine execution interrupted by base exception"):
            return not isinstance(error, KeyboardInterrupt)
        return True


logging.getLogger("prefect.flow_runs").addFilter(_ExpectedEndings())


def expected_ending(exc: RewardsError | RaasError) -> State:
    """A run stopped for an expected reason (a RewardsError, or Tango failing after every
    retry): one ERROR line without a traceback, and a Failed state that says why."""
    error = exc if isinstance(exc, RewardsError) else RewardsError(explain(exc))
    get_run_logger().error("%s", error)
    return Failed(message=str(error), data=error)


def step(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A task that may stop the run for an expected reason: a :class:`RewardsError`, or Tango
    failing after every retry, ends the task Failed with one line (no traceback), and the
    caller gets a RewardsError with that line."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except RaasError as exc:
                failure = RewardsError(explain(exc))
            except RewardsError as exc:
                failure = exc
            get_run_logger().error("%s", failure)
            return Failed(message=str(failure))  # type: ignore[return-value]

        run = task(name=name, cache_policy=NO_CACHE)(guarded)

        @functools.wraps(fn)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            state = run(*args, return_state=True, **kwargs)
            if state.is_failed():
                raise RewardsError(state.message or f"{name} failed")
            return state.result()

        return call

    return decorate


def context() -> steps.Context:
    """The steps' context inside a task: the ledger and clients from settings, the run's log."""
    logger = get_run_logger()
    return steps.Context(ledger(), client_for, logger.info, logger.warning)


@step("load-spreadsheet")
def load_spreadsheet(path: str, sheet_name: str | None) -> Sheet:
    sheet = steps.load(path, sheet_name)
    get_run_logger().info(
        "Read %d rows from %s (%s)",
        len(sheet.frame),
        Path(sheet.source).name,
        sheet.encoding or f"sheet {sheet.sheet_name!r}",
    )
    get_run_logger().info("%s", sheet.read_as())
    return sheet


@step("fetch-account-and-catalog")
def fetch_account_and_catalog(
    customer: str | None, account: str | None, deadline: float
) -> tuple[Account, Catalog]:
    """The account (its balance and currency) and the catalog; an outage at the start of a
    run is waited out too, for up to two minutes (longer, and it is more likely a wrong
    TANGO_BASE_URL than an outage) and never past ``deadline`` (monotonic)."""
    client = tango_client(customer, account)
    retry = sending.patient(min(deadline, time.monotonic() + 120), get_run_logger().warning)

    return client.get_account(retry=retry), client.get_catalog(retry=retry)


@task(name="validate-rows", cache_policy=NO_CACHE)
def validate_rows(
    sheet: Sheet, catalog: Catalog, currency: str, options: ValidationOptions
) -> Validated:
    result = validate(sheet.frame, catalog, currency, options, sheet.header_map)
    log = get_run_logger()
    log.info("%d rows valid, %d rejected", len(result.valid), len(result.rejected))
    for line in warning_lines(result.warnings):  # valid rows to look at before they are paid
        log.warning("%s", line)
    return result


@step("plan-orders")
def plan_orders(
    validated: Validated, *, account: str, customer: str, chunk_size: int, wait_until: float | None
) -> Plan:
    return steps.plan(
        context(),
        validated.valid,
        account=account,
        customer=customer,
        chunk_size=chunk_size,
        wait_until=wait_until,
        grace=RewardsSettings().takeover_grace_seconds,
    )


@task(name="check-balance", cache_policy=NO_CACHE)
def check_balance(plan: Plan, account: Account) -> CostPreview:
    preview = steps.cost(plan, account)
    get_run_logger().info("Cost: %s", preview.text())
    return preview


@task(name="record-orders", cache_policy=NO_CACHE)
def record_orders(plan: Plan, sheet: Sheet, lease_seconds: float) -> Claimed:
    return steps.record(context(), plan, sheet, lease_seconds)


@step("submit-orders")
def submit_orders(
    refs: list[str],
    keeper: LeaseKeeper,
    concurrency: int,
    deadline: float,
    cards: ProgressCards | None = None,
) -> dict[str, int]:
    by = str(runtime.flow_run.id)
    with progress.watching(cards or (lambda *_: None)):
        return steps.submit(
            context(), refs, keeper, concurrency=concurrency, deadline=deadline, by=by
        )


@task(name="reconcile", cache_policy=NO_CACHE)
def reconcile_batch(
    sheet: Sheet,
    validated: Validated,
    plan: Plan,
    mode: Mode = Mode.SEND,
    unsent_reason: str = "not submitted",
) -> Reconciliation:
    return steps.reconcile_batch(context(), sheet, validated, plan, mode, unsent_reason)
