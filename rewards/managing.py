"""The manage-rewards steps, Prefect-free: look the lines up, check the actions, record them,
do each once, and say where each line ended. ``tasks/manage.py`` wraps each in a task.

Exactly once: an action is recorded in the ledger (:meth:`Ledger.plan_actions`) before Tango
hears of it, with what its line showed just before (:meth:`Ledger.attempting`); once Tango
answers it is ``done`` or ``refused``. A rerun does nothing about an action done. An action
left ``planned`` (the run died, or Tango's answer never came) is redone where a repeat is
harmless (cancel, freeze, unfreeze, reschedule, note: each sets a state, and the client takes
"already so" after an uncertain attempt as done; a reissue answers its replacement again); a
resend is redone only after Tango's line shows no resend beyond those seen before the attempt,
since a repeat would deliver the reward twice (docs/tango/DECISIONS.md).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

import pandas as pd

from raas import (
    Account,
    APIConnectionError,
    APIStatusError,
    LineItemDetail,
    NotFoundError,
    RaasClient,
    RaasError,
    ReissueRecipient,
    ServerError,
    rules,
)

from . import phones, sending, sources
from .actions import (
    Act,
    Checked,
    Held,
    Planned,
    check,
    line_facts,
    line_refs,
    refuse_unread_new_values,
)
from .columns import ACTION_COLUMNS, ROW
from .export import masked_contact
from .ledger import (
    ActionRow,
    ActionState,
    Ledger,
    delivery_failed,
    reissued_as,
    submit_margin,
)
from .reading import Sheet, read_sheet
from .summary import CostPreview

log = logging.getLogger("rewards")
DONE_STATUSES = ("COMPLETE", "FAILED", "CANCELLED")


class Outcome(StrEnum):
    DONE = "done"  # Tango did it in this run
    DONE_BEFORE = "done_before"  # an earlier run did it (or its attempt was found at Tango)
    REFUSED = "refused"  # Tango refused it (its reason in the report)
    UNKNOWN = "not_done"  # Tango did not answer: run the same file again
    FAILED_AGAIN = "failed_again"  # Tango resent or reissued it, and that delivery failed too
    INVALID = "invalid"  # the row did not pass the checks: nothing was asked of Tango
    WOULD_DO = "would_do"  # a dry run: what a run would ask of Tango


CHARGING = frozenset({Outcome.DONE, Outcome.WOULD_DO})


@dataclass(frozen=True)
class Done:
    """What became of one action."""

    action: Planned
    outcome: Outcome
    said: str  # Tango's answer or reason, in one line (never a credential)
    new_line_id: str | None = None  # a reissue's replacement


@dataclass(frozen=True)
class Lines:
    """The lines an actions sheet names, as Tango has them now."""

    details: dict[str, LineItemDetail | None]  # reference line id -> line (None: not found)
    known: dict[str, str]  # externalRefLineItemID -> reference line id (from the ledger)
    amounts: dict[str, Decimal]  # reference line id -> the amount sent (from the ledger)


@dataclass
class Acted:
    done: list[Done] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for d in self.done if d.outcome is outcome)


def load(path: str | Path, sheet_name: str | None, confined: bool = True) -> Sheet:
    sheet = read_sheet(sources.confine(path) if confined else path, ACTION_COLUMNS, sheet_name)
    refuse_unread_new_values(sheet.unknown_columns, Path(path).name)
    return sheet


def look_up(
    client: RaasClient, book: Ledger, account: str, frame: pd.DataFrame, concurrency: int = 4
) -> Lines:
    """Each line the sheet names, from Tango (``GET /lineItems/{id}``, credentials dropped by
    the client); lines named by externalRefLineItemID are found through the ledger."""
    refs, ext = line_refs(frame)
    known = book.references(account, sorted(ext))
    wanted = sorted(refs | set(known.values()))

    def one(ref: str) -> LineItemDetail | None:
        try:
            return client.get_line_item(ref)
        except NotFoundError:
            return None

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        details = dict(zip(wanted, pool.map(one, wanted), strict=True))
        # replacements of replacements: a refusal names the line to act on now
        while follow := sorted(
            {d.reissuedToReferenceLineItemId or "" for d in details.values() if d}
            - {""}
            - set(details)
        ):
            details |= dict(zip(follow, pool.map(one, follow), strict=True))

    return Lines(details, known, book.sent_amounts(account, wanted))


def check_sheet(
    client: RaasClient,
    book: Ledger,
    sheet: Sheet,
    lines: Lines,
    account: Account,
    phone_country: str | None = phones.DEFAULT_COUNTRY,
) -> Checked:
    """Every row checked against Tango's reason codes, the lines (their state too) and the
    catalog; what the ledger holds of each action (done before: no cost). A new number
    written without + is read in ``phone_country``."""
    codes = client.get_async_reason_codes().reasonCodes
    utids = {d.utid for d in lines.details.values() if d and d.utid}
    catalog = {}
    if utids:
        catalog = {i.utid: i for i in client.get_catalog().items() if i.utid in utids}
    return check(
        sheet.frame,
        account=account.accountIdentifier,
        currency=account.currencyCode,
        reason_codes=codes,
        lines=lines.details,
        known=lines.known,
        catalog=catalog,
        amounts=lines.amounts,
        in_ledger=lambda actions: held_in(book, actions, lines.details),
        phone_country=phone_country,
    )


# Actions whose effect a later action (or Tango's portal) can undo: asked again after that,
# they are done again. Resends and reissues deliver: they are new only with a new repeat_key.
UNDOABLE = (Act.FREEZE, Act.UNFREEZE, Act.RESCHEDULE, Act.NOTE)


def held_in(
    book: Ledger, actions: list[Planned], lines: Mapping[str, LineItemDetail | None]
) -> dict[str, Held]:
    """What the ledger holds of each action, and whether one done was undone since: a frozen
    reward is active again (Tango's line says so), a date or note done was changed by a later
    action of the ledger (Tango's line does not show them)."""
    rows = book.actions_of([a.id for a in actions])
    out: dict[str, Held] = {}
    for a in actions:
        row = rows.get(a.id)
        if row is None:
            continue
        undone_at = None
        if row.state is ActionState.DONE and a.action in UNDOABLE:
            history = [r for r in book.line_actions(a.line_id) if r.state is ActionState.DONE]
            line = lines.get(a.line_id)
            if a.action in (Act.FREEZE, Act.UNFREEZE):
                undone = (
                    line is not None and rules.action_refusal(a.action, line_facts(line)) is None
                )
            else:  # the latest of its kind on the line asked for something else
                same = sorted(
                    (r for r in history if r.action == a.action.value),
                    key=lambda r: r.done_at or "",
                )
                undone = bool(same) and same[-1].request_json != row.request_json
            if undone:
                undone_at = max((r.done_at or "" for r in history), default="") or row.done_at
        out[a.id] = Held(row.state, undone_at)
    return out


def cost(checked: Checked, account: Account) -> CostPreview:
    """What the actions may take from the balance (reissues, resends of failed lines)."""
    charged = [a for a in checked.actions if a.cost]
    return CostPreview(
        currency=account.currencyCode,
        cost=sum((a.cost for a in charged), Decimal(0)),
        balance=account.currentBalance,
        rows=len(charged),
        account=account.accountIdentifier,
        covers="action(s) to pay",
    )


def record(book: Ledger, checked: Checked, account: str, source: str) -> dict[str, ActionRow]:
    """Every checked action in the ledger before any is done; returns them as recorded."""
    return book.plan_actions(
        checked.batch,
        [
            {
                "action_id": a.id,
                "account_identifier": account,
                "action": a.action.value,
                "reference_line_item_id": a.line_id,
                "external_ref_line_item_id": a.external_ref_line_item_id or None,
                "request_json": json.dumps(a.values(), sort_keys=True),
                "source_name": Path(source).name,
            }
            for a in checked.actions
        ],
    )


def preview(book: Ledger, checked: Checked) -> Acted:
    """A dry run: what would be done, and what was done before (the ledger read, not written)."""
    before = book.actions_of([a.id for a in checked.actions])
    acted = Acted()
    for a in checked.actions:
        row = before.get(a.id)
        if row is not None and row.state is ActionState.DONE:
            acted.done.append(Done(a, Outcome.DONE_BEFORE, f"done before: {row.answer or ''}"))
        else:
            acted.done.append(Done(a, Outcome.WOULD_DO, "would be asked of Tango"))
    return acted


def act(
    client: RaasClient,
    book: Ledger,
    checked: Checked,
    recorded: dict[str, ActionRow],
    *,
    run_id: str | None = None,
    approver: str | None = None,
    say: Callable[[str], None] = log.info,
) -> Acted:
    """Do each recorded action not done before, one at a time in the sheet's order (two
    actions on one line happen in the order written)."""
    acted = Acted()
    for action in checked.actions:
        row = recorded[action.id]
        done = _one(client, book, action, row, run_id=run_id, approver=approver, say=say)
        acted.done.append(done)
        say(
            f"row {action.row_number}: {action.action} {action.line_id}: {done.outcome} {done.said}"
        )
    return acted


def _one(
    client: RaasClient,
    book: Ledger,
    action: Planned,
    row: ActionRow,
    *,
    run_id: str | None,
    approver: str | None,
    say: Callable[[str], None],
) -> Done:
    if row.state is ActionState.DONE:
        return Done(action, Outcome.DONE_BEFORE, f"done before: {row.answer or ''}".strip())
    hold = submit_margin(client.settings.timeout_seconds)
    while True:
        line = client.get_line_item(action.line_id)
        # an earlier attempt whose outcome nobody heard (or one under way): did it happen?
        unheard = row.state is ActionState.PLANNED and row.seen_before is not None
        if unheard and (found := _earlier_attempt(action, row, line)):
            # the attempt that reached Tango did it: credited to its run and approver
            book.action_done(action.id, found, run_id=row.run_id, approver=row.approver)
            new = line.reissuedToReferenceLineItemId if action.action is Act.REISSUE else None
            return Done(action, Outcome.DONE_BEFORE, found, new)
        if book.attempting(action.id, _seen(line), run_id, hold, approver):
            break
        row = book.actions_of([action.id])[action.id]
        if row.state is ActionState.DONE:
            return Done(action, Outcome.DONE_BEFORE, f"done by run {row.run_id}: {row.answer}")
        say(f"row {action.row_number}: run {row.run_id} is attempting it; waiting (<= {hold:g} s)")
        time.sleep(1.0)
    try:
        said, new_line = _call(client, action)
    except (APIConnectionError, ServerError) as exc:  # no answer: it may or may not have happened
        return Done(
            action,
            Outcome.UNKNOWN,
            f"Tango did not answer ({exc}); run the same file again: it checks Tango first",
        )
    except APIStatusError as exc:
        reason = _refusal(exc)
        book.action_refused(action.id, exc.http_code, reason, run_id=run_id)
        return Done(action, Outcome.REFUSED, reason)
    book.action_done(action.id, said, run_id=run_id, approver=approver)
    return Done(action, Outcome.DONE, said, new_line)


def _seen(line: LineItemDetail) -> dict[str, object]:
    return {
        "resends": len(line.resendHistory),
        "reissued_to": line.reissuedToReferenceLineItemId,
        "status": line.status,
        "reward_status": line.rewardStatus,
    }


def _earlier_attempt(action: Planned, row: ActionRow, line: LineItemDetail) -> str | None:
    """What Tango's line shows of an attempt that was made but never answered (None: no
    trace of it, so it may be made again). Resends and reissues leave a trace: a new entry in
    the line's resend history, a replacement. The others are safe to repeat anyway."""
    before = row.before
    if action.action is Act.RESEND and len(line.resendHistory) > int(before.get("resends", 0)):
        return "an earlier attempt was found at Tango (a resend in the line's history)"
    if action.action is Act.REISSUE and line.reissuedToReferenceLineItemId:
        new = line.reissuedToReferenceLineItemId
        if new != before.get("reissued_to"):
            return f"an earlier attempt was found at Tango: {reissued_as(new)}"
    return None


def _call(client: RaasClient, a: Planned) -> tuple[str, str | None]:
    """Ask Tango to do ``a``: (what it answered, in one line; a reissue's new line)."""
    ref, code, other = a.line_id, a.reason_code, a.other_reason
    if a.action is Act.RESEND:
        sent = client.resend_line_item(
            ref,
            code or "",
            other,
            new_email=a.new_email,
            new_mobile_number=a.new_mobile_number,
            new_delivery_method=a.new_delivery_method,
        )
        to = masked_contact(sent.deliveryMethod, sent.email, sent.mobileNumber)
        return f"resent by {sent.deliveryMethod or 'the same method'} to {to}", None
    if a.action is Act.REISSUE:
        recipient = None
        if a.new_email or a.new_mobile_number:
            recipient = ReissueRecipient(email=a.new_email, mobileNumber=a.new_mobile_number)
        new = client.reissue_line_item(
            ref,
            code or "",
            other,
            amount=a.amount,
            delivery_method=a.new_delivery_method,
            recipient=recipient,
            notes=a.note,
        )
        return reissued_as(new.referenceLineItemID), new.referenceLineItemID
    if a.action is Act.CANCEL:
        client.cancel_line_item(ref, code or "", other)
        return "cancelled (its charge refunded)", None
    if a.action is Act.FREEZE:
        client.freeze_line_item(ref, code or "", other)
        return "frozen", None
    if a.action is Act.UNFREEZE:
        client.unfreeze_line_item(ref, code or "", other)
        return "unfrozen", None
    if a.action is Act.RESCHEDULE:
        changed = client.update_async_line_item(ref, delivery_date=a.delivery_date)
        return f"delivery date now {changed.deliveryDate or a.delivery_date}", None
    client.update_async_line_item(ref, note=a.note)
    return "note set", None


def _refusal(exc: APIStatusError) -> str:
    """Tango's refusal in one line: its codes and messages, what to look at."""
    said = "; ".join(str(e) for e in exc.errors) or exc.message
    return f"Tango refused it (HTTP {exc.http_code}): {said}"


def settle(
    client: RaasClient,
    book: Ledger,
    acted: Acted,
    *,
    deadline: float,
    pause: float = 0.5,
) -> dict[str, LineItemDetail | None]:
    """Where each line acted on ended, from Tango: a resent or reissued line is delivered by
    Tango's worker, so its line (or the replacement) is asked about until it is no longer
    pending or ``deadline`` (monotonic). The ledger's orders and lines follow Tango's."""
    wanted: set[str] = set()
    for d in acted.done:
        wanted.add(d.action.line_id)
        if d.new_line_id:
            wanted.add(d.new_line_id)
    moving = {
        d.new_line_id or d.action.line_id
        for d in acted.done
        if d.outcome is Outcome.DONE and d.action.action.charged
    }
    now: dict[str, LineItemDetail | None] = {}
    while True:
        for ref in sorted(wanted):
            try:
                now[ref] = client.get_line_item(ref)
            except NotFoundError:
                now[ref] = None
            except RaasError:
                now.setdefault(ref, None)
        pending = {r for r in moving if (seen := now.get(r)) and seen.status not in DONE_STATUSES}
        if not pending or time.monotonic() + pause > deadline:
            break
        wanted = pending
        time.sleep(pause)
    # the ledger follows Tango: the orders of these lines, read again as sending reads them
    # (a resend delivered a line and charged it again, a cancel refunded it)
    numbered = sorted({d.referenceOrderID for d in now.values() if d and d.referenceOrderID})
    for ref in sorted(book.orders_of(sorted(now), numbered)):
        try:
            sending.refresh(client, book, ref)
        except RaasError as exc:
            log.warning("order %s not read again (%s); its next run will", ref, exc)
    return now


REPORT_COLUMNS = [
    ROW,
    "action",
    "line_id",
    "external_ref_line_item_id",
    "outcome",
    "reason",
    "warning",  # a valid action worth a look (a failed line resent to the same contact)
    "line_status",  # of line_id, the line the row names (a reissue's old line)
    "delivery_status",
    "reward_status",
    "new_line_id",  # a reissue's replacement, and its statuses
    "new_line_status",
    "new_delivery_status",
    "new_reward_status",
    "cost",  # what Tango charged for it (or would)
    "refunded",  # what Tango gave back (a cancelled line, a reissued reward's old charge)
    "action_id",
]


def _failed(line: LineItemDetail | None) -> bool:
    """Tango's line (or its replacement) failed to reach its recipient."""
    return line is not None and delivery_failed(line.status, line.deliveryStatus)


def _statuses(prefix: str, line: LineItemDetail | None) -> dict[str, str]:
    """A line's statuses at Tango now, as report columns (blank: no such line)."""
    return {
        f"{prefix}line_status": (line.status if line else "") or "",
        f"{prefix}delivery_status": (line.deliveryStatus if line else "") or "",
        f"{prefix}reward_status": (line.rewardStatus if line else "") or "",
    }


def report(
    sheet: Sheet,
    checked: Checked,
    acted: Acted,
    lines: dict[str, LineItemDetail | None],
) -> pd.DataFrame:
    """One row per input row: what was done, refused or found invalid, and where its line
    is now. The original cells come along (a fixed copy can be uploaded again)."""
    out: list[dict[str, object]] = []
    for d in acted.done:
        a = d.action
        line, replacement = lines.get(a.line_id), lines.get(d.new_line_id or "")
        outcome, said = d.outcome, d.said
        delivered = replacement if d.new_line_id else line  # what a resend or reissue sent
        # (a rerun's resend done before whose delivery failed is no success either)
        again = outcome is Outcome.DONE or (
            outcome is Outcome.DONE_BEFORE and a.action is Act.RESEND
        )
        if again and a.action.charged and _failed(delivered):
            outcome = Outcome.FAILED_AGAIN
            said += "; the delivery failed again: check the contact and resend to a new one"
        out.append(
            {
                ROW: a.row_number,
                "outcome": outcome.value,
                "reason": said,
                "warning": a.warning or "",
                **_statuses("", line),
                "new_line_id": d.new_line_id or "",
                **_statuses("new_", replacement),
                # what this run charged (or would): a failed delivery is not charged
                # (DECISIONS.md), a refusal charges nothing, an earlier run's action is its own
                "cost": f"{a.charge:.2f}" if a.charge and outcome in CHARGING else "",
                "refunded": f"{a.refund:.2f}" if a.refund and outcome in CHARGING else "",
                "action_id": a.id,
                "line_id_found": a.line_id,
            }
        )
    for row in checked.rejected.itertuples(index=False):
        cells = row._asdict()
        out.append({ROW: cells[ROW], "outcome": Outcome.INVALID.value, "reason": cells["problems"]})
    done = pd.DataFrame(out, columns=[*REPORT_COLUMNS, "line_id_found"])
    # text columns stay text when no row has a value there (every row invalid): not float NaN
    done = done.astype({c: object for c in done.columns if c != ROW})
    original = sheet.frame.copy()
    for name in ("action", "line_id", "external_ref_line_item_id"):
        if name not in original:
            original[name] = ""
    merged = original.merge(
        done.drop(columns=["action", "line_id", "external_ref_line_item_id"]), on=ROW, how="left"
    )
    found = merged.pop("line_id_found").fillna("")
    merged["line_id"] = merged["line_id"].where(merged["line_id"].astype(str) != "", found)
    rest = [c for c in merged.columns if c not in REPORT_COLUMNS]
    return merged[[*REPORT_COLUMNS, *rest]].fillna("").sort_values(ROW, kind="stable")
