"""The actions spreadsheet: what to do about rewards already sent, one row per action.

A row names an ``action`` (resend, reissue, cancel, reschedule, note, freeze, unfreeze), the
line it acts on (``line_id``: the report's ``reference_line_item_id``, Tango's
``referenceLineItemId``; or ``external_ref_line_item_id``), the new values the action takes,
and why (``reason_code`` from Tango's list for the action, ``other_reason`` in words for
``OTHER``). ``failed_deliveries.csv`` of a report is already such a file.

Every row is checked before anything is done (:func:`check`): one line per problem (row,
column, reason), as :mod:`rewards.validation` reports recipients, and the rows that pass become
:class:`Planned` actions, each with an id derived from what it does
(:func:`rewards.identity.action_id`), so the same action in a rerun or in another file is the
same action, done once. What each action allows and costs is docs/tango/DECISIONS.md's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa

from raas import CatalogItem, LineItemDetail, rules

from . import amounts, phones, text_checks
from .columns import ROW, normalise_header
from .errors import InputError
from .export import FORMULA_START
from .identity import action_id, actions_batch
from .validation import time_not_sent, unsent_time, written_day

if TYPE_CHECKING:  # the ledger (sqlalchemy) loads when an action is checked, not when a file
    # is read: the reader asks this module whether a sheet is an actions file
    from .ledger import ActionState

PHONED = frozenset(rules.methods_needing(rules.MOBILE_NUMBER.paths[0]))  # PHONE, WHATSAPP


class Act(StrEnum):
    RESEND = "resend"
    REISSUE = "reissue"
    CANCEL = "cancel"
    RESCHEDULE = "reschedule"
    NOTE = "note"
    FREEZE = "freeze"
    UNFREEZE = "unfreeze"

    @property
    def reason_key(self) -> str | None:
        """The action's list in ``GET /asyncOrders/reasonCodes`` (None: it takes no reason)."""
        return None if self in (Act.RESCHEDULE, Act.NOTE) else self.name

    @property
    def charged(self) -> bool:
        """It may cost money (DECISIONS.md): a reissue; a resend of a failed line."""
        return self in (Act.REISSUE, Act.RESEND)


ACT_SYNONYMS = {
    "sendagain": Act.RESEND,
    "redeliver": Act.RESEND,
    "replace": Act.REISSUE,
    "move": Act.RESCHEDULE,
    "changedate": Act.RESCHEDULE,
    "addnote": Act.NOTE,
}

RESEND_METHODS, REISSUE_METHODS = rules.RESEND_METHODS, rules.REISSUE_METHODS

TEXT_LIMIT = 1024
ISSUED = ("ACTIVE", "FROZEN")  # a reward that exists: a reissue refunds its charge first


@dataclass(frozen=True)
class Planned:
    """One checked action, ready to record and do."""

    id: str
    row_number: int
    action: Act
    line_id: str  # Tango's referenceLineItemId
    external_ref_line_item_id: str
    reason_code: str | None
    other_reason: str | None
    new_email: str | None = None
    new_mobile_number: str | None = None
    new_delivery_method: str | None = None
    amount: Decimal | None = None
    delivery_date: str | None = None
    note: str | None = None
    warning: str | None = None  # valid, but worth a look before it is done
    charge: Decimal = Decimal(0)  # what Tango charges for it (a reissue's new line)
    refund: Decimal = Decimal(0)  # what Tango gives back (a cancelled or reissued charge)
    currency: str = ""

    @property
    def cost(self) -> Decimal:
        """What it may take from the balance: Tango refunds a reissued reward's charge before
        it charges the new line, so the balance needs the difference (DECISIONS.md)."""
        return max(self.charge - self.refund, Decimal(0))

    def values(self) -> dict[str, str]:
        """The new values it takes (the request, as the ledger records it)."""
        out = {
            "new_email": self.new_email,
            "new_mobile_number": self.new_mobile_number,
            "new_delivery_method": self.new_delivery_method,
            "amount": None if self.amount is None else f"{self.amount:.2f}",
            "delivery_date": self.delivery_date,
            "note": self.note,
            "reason_code": self.reason_code,
            "other_reason": self.other_reason,
        }
        return {k: v for k, v in out.items() if v}


@dataclass
class Checked:
    """``actions``: the rows that may be done. ``problems``: one line per failing check (row,
    column, reason). ``rejected``: the original cells of each failing row and its problems,
    ready to fix and upload again."""

    actions: list[Planned]
    problems: pd.DataFrame
    rejected: pd.DataFrame
    rows_in: int
    batch: str

    @property
    def cost(self) -> Decimal:
        return sum((a.cost for a in self.actions), Decimal(0))


def _table(problems: list[tuple[int, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(problems, columns=[ROW, "column", "reason"]).astype({ROW: "int64"})


def line_refs(frame: pd.DataFrame) -> tuple[set[str], set[str]]:
    """The lines a sheet names: (reference line ids, external ref line item ids), what the
    caller looks up (in the ledger and at Tango) before :func:`check`."""
    refs = {str(v).strip() for v in frame.get("line_id", pd.Series(dtype=str)) if str(v).strip()}
    ext = frame.get("external_ref_line_item_id", pd.Series(dtype=str))
    return refs, {str(v).strip() for v in ext if str(v).strip()}


def check(
    frame: pd.DataFrame,
    *,
    account: str,
    currency: str,
    reason_codes: Mapping[str, Mapping[str, str]],
    lines: Mapping[str, LineItemDetail | None],
    known: Mapping[str, str],
    catalog: Mapping[str, CatalogItem] | None = None,
    amounts: Mapping[str, Decimal] | None = None,
    today: date | None = None,
    in_ledger: Callable[[list[Planned]], Mapping[str, Held]] | None = None,
    phone_country: str | None = phones.DEFAULT_COUNTRY,
) -> Checked:
    """Check every row of an actions sheet. ``reason_codes``: Tango's, per action (``RESEND``:
    {code: meaning}); ``lines``: each reference line id named (directly or through ``known``,
    external ref line item id -> reference line id) -> the line as Tango has it (None: not
    found); ``catalog``: utid -> item, for the cost of reissues and resends; ``amounts``:
    reference line id -> the amount it was sent with (the ledger's: Tango shows a refunded
    line's amount as 0); ``in_ledger``: what the ledger holds of these actions (their lines'
    state is theirs to explain, see :func:`_allowed_by_state`; one done costs nothing more;
    one done and undone since is asked again, as a new action); ``phone_country``: where a
    new mobile number written without + is read, as a recipients file's is."""
    today = today or datetime.now(UTC).date()
    catalog = catalog or {}
    problems: list[tuple[int, str, str]] = []
    planned: list[Planned] = []
    seen: dict[str, int] = {}
    for cells in frame.to_dict("records"):
        row = int(cells[ROW])
        said: list[tuple[str, str]] = []
        action = _checked_row(
            cells, said, account, currency, reason_codes, lines, known, phone_country
        )
        if action is not None and not said:
            unit = (amounts or {}).get(action.line_id)
            action = _with_cost(action, lines[action.line_id], catalog, unit, said)
            action = _warned(action, lines[action.line_id])
            if action.action is Act.RESCHEDULE and action.delivery_date:
                _check_date(action.delivery_date, today, said)
        if action is not None and not said:
            if action.id in seen:
                said.append(("action", f"repeats row {seen[action.id]}: the same action"))
            else:
                seen[action.id] = row
                planned.append(action)
        problems += [(row, col, why) for col, why in said]
    held = dict(in_ledger(planned)) if in_ledger else {}
    again = {a.id for a in planned if (h := held.get(a.id)) and h.undone_at}
    planned = [_again(a, account, held[a.id]) if a.id in again else a for a in planned]
    if again and in_ledger:  # asked again before (a rerun): what the ledger holds of that
        held.update(in_ledger([a for a in planned if a.id not in held]))

    from .ledger import ActionState

    # a refused action is judged again: the line may have changed, or not
    judged = {i for i, h in held.items() if h.state is not ActionState.REFUSED and not h.undone_at}
    done = {i for i in judged if held[i].state is ActionState.DONE}
    refused = _allowed_by_state(planned, lines, judged, done)
    problems += refused
    out = {row for row, _, _ in refused}
    planned = [
        replace(a, charge=Decimal(0), refund=Decimal(0)) if a.id in done else a
        for a in planned
        if a.row_number not in out
    ]

    problems.sort(key=lambda p: p[0])
    table = _table(problems)
    bad = sorted(set(table[ROW]))
    rejected = frame[frame[ROW].isin(bad)].copy()
    if len(rejected):
        texts = table.groupby(ROW)[["column", "reason"]].apply(
            lambda g: "; ".join(f"{c}: {r}" for c, r in zip(g["column"], g["reason"], strict=True))
        )
        rejected["problems"] = rejected[ROW].map(texts)
    # a file with no valid action is a run of its own all the same: its rows tell it apart
    # (else every such file would share one report folder)
    rows = [] if planned else [str(pd.util.hash_pandas_object(frame, index=False).sum())]
    batch = actions_batch([a.id for a in planned] + rows, account)

    return Checked(planned, table, rejected, len(frame), batch)


@dataclass(frozen=True)
class Held:
    """What the ledger holds of an action: its state (``planned``, ``done``, ``refused``) and,
    for one done whose effect was undone since (unfrozen, frozen again, moved or noted
    otherwise), when: asked for again, it is a new action (see :func:`_again`)."""

    state: ActionState
    undone_at: str | None = None


def _again(action: Planned, account: str, held: Held) -> Planned:
    """The action asked for again after it was undone: a new id, from the old one and when it
    was undone (a rerun of the same file finds this one, not a third)."""
    new = action_id(account, action.action, action.line_id, [action.id, held.undone_at or ""])
    return replace(action, id=new)


# words a header holds when it means a new value ("Correct Amount", "Updated Email"): left
# unread, a reissue went out at the old amount and a resend to the old address, without a word
NEW_VALUE_WORDS = {
    "amount": "amount",
    "email": "new_email",
    "phone": "new_mobile_number",
    "mobile": "new_mobile_number",
    "method": "new_delivery_method",
    "date": "delivery_date",
}
# what our own files carry beside the new values: the old contact, the run's outcome
CONTEXT = frozenset(
    normalise_header(h)
    for h in ("email", "mobile_number", "delivery_method", "scheduled_delivery_date")
)


def refuse_unread_new_values(unknown: list[str], where: str) -> None:
    """An actions file whose header is not read, and says it holds a new value, is refused
    naming the column to rename it as: a guess ("Old Email" is no new email) is not made."""
    said = []
    for header in unknown:
        name = normalise_header(header)
        meant = next((c for w, c in NEW_VALUE_WORDS.items() if w in name), None)
        if meant and name not in CONTEXT and name != normalise_header(meant):
            said.append(f"{_shown(header)} (if it is the new value: {meant})")
    if said:
        raise InputError(
            f"{where}: column(s) {', '.join(said)} are not read: rename each to the column it "
            "is, or to something that does not look like a new value if it is not one; "
            "nothing was done"
        )


def line_facts(line: LineItemDetail) -> rules.LineFacts:
    """A line as Tango shows it, as :func:`raas.rules.action_refusal` judges it (Tango's
    line views do not show a delivery date: a pending line may be scheduled)."""
    return rules.LineFacts(
        status=line.status,
        reward=line.rewardStatus,
        delivery_failed=rules.failed_in_delivery(
            line.status, line.deliveryStatus, [e.error_code or "" for e in line.lineItemErrors]
        ),
        replaced_by=line.reissuedToReferenceLineItemId,
    )


def _latest(line: LineItemDetail, lines: Mapping[str, LineItemDetail | None]) -> str | None:
    """The line that replaces ``line`` now: its replacement's replacement, and so on."""
    new, seen = line.reissuedToReferenceLineItemId, set()
    while new and new not in seen:
        seen.add(new)
        then = lines.get(new)
        if then is None or not then.reissuedToReferenceLineItemId:
            break
        new = then.reissuedToReferenceLineItemId
    return new


def _allowed_by_state(
    planned: list[Planned],
    lines: Mapping[str, LineItemDetail | None],
    held: set[str],
    done: set[str],
) -> list[tuple[int, str, str]]:
    """The rows whose line does not allow their action as Tango has the line now (the
    refusal Tango would give, before anything is asked). Only the first action on each line
    still to do is judged: a later one acts on what the earlier one leaves (unfreeze, then
    resend); one ``done`` before left the line as it is now. An action the ledger holds is
    not judged: its own earlier attempt may have changed the line (a reissue leaves it
    cancelled), and the run finds out at Tango whether it was done."""
    out: list[tuple[int, str, str]] = []
    first: set[str] = set()
    for a in planned:
        if a.id in done:
            continue
        if a.line_id in first:
            continue
        first.add(a.line_id)
        line = lines.get(a.line_id)
        if a.id in held or line is None:
            continue
        facts = replace(line_facts(line), replaced_by=_latest(line, lines))
        if refusal := rules.action_refusal(a.action.value, facts):
            out.append(
                (a.row_number, "action", f"line {a.line_id} is {facts.shown} and {refusal[1]}")
            )
    return out


def _text(cells: Mapping[str, object], name: str) -> str:
    value = cells.get(name)

    return "" if value is None or value != value else str(value).strip()


def _checked_row(
    cells: Mapping[str, object],
    said: list[tuple[str, str]],
    account: str,
    currency: str,
    reason_codes: Mapping[str, Mapping[str, str]],
    lines: Mapping[str, LineItemDetail | None],
    known: Mapping[str, str],
    phone_country: str | None,
) -> Planned | None:
    """The row as an action, its problems appended to ``said`` (column, reason)."""
    act = parse_act(_text(cells, "action"))
    if act is None:
        typed = _text(cells, "action")
        said.append(
            ("action", f"{_shown(typed)} is not an action; use one of {', '.join(Act)}")
            if typed
            else ("action", f"empty; use one of {', '.join(Act)}")
        )
    line_id, ext = _text(cells, "line_id"), _text(cells, "external_ref_line_item_id")
    reference = line_id or known.get(ext, "")
    if not line_id and not ext:
        said.append(("line_id", "empty: give the report's reference_line_item_id"))
    elif not reference:
        said.append(
            (
                "external_ref_line_item_id",
                f"{_shown(ext)} was not sent from this ledger (or has no Tango line yet); "
                "give the report's reference_line_item_id in line_id",
            )
        )
    elif lines.get(reference) is None:
        column = "line_id" if line_id else "external_ref_line_item_id"
        said.append((column, f"Tango has no line {_shown(reference)} in account {account}"))
    elif (owner := lines[reference]) and owner.accountIdentifier not in (None, account):
        said.append(("line_id", f"line {_shown(reference)} is not in account {account}"))
    elif line_id and ext and known.get(ext, line_id) != line_id:
        said.append(
            (
                "external_ref_line_item_id",
                f"{_shown(ext)} is line {known[ext]}, not {_shown(line_id)}: keep one of the two "
                "columns, or make them name the same line",
            )
        )

    email, phone = _text(cells, "new_email"), _text(cells, "new_mobile_number")
    method_text = _text(cells, "new_delivery_method")
    method = rules.method_named(method_text) or method_text.upper()  # "sms": PHONE
    amount_text, day_text = _text(cells, "amount"), _text(cells, "delivery_date")
    day = written_day(day_text) or day_text  # a date cell's "2026-12-31 00:00:00" is the day
    time = unsent_time(day_text) if day != day_text else None
    note, code = _text(cells, "note"), _text(cells, "reason_code").upper()
    other = _text(cells, "other_reason")

    if email and (problem := _text_problem(email) or _email_problem(email)):
        said.append(("new_email", problem))
    written, phone = phone, _e164(phone, phone_country)
    if written and not phone:
        said.append(
            (
                "new_mobile_number",
                "not a valid mobile number: write it with + and the country code, e.g. "
                f"{phones.example(phone_country or '')} (a number without + is read in the "
                f"default country, {phone_country})"
                if phone_country
                else "not a valid mobile number: write it with + and the country code",
            )
        )
    elif phone and not _mobile(phone):
        said.append(
            (
                "new_mobile_number",
                "not a mobile number its country has: a reward by text goes to a mobile only",
            )
        )

    amount = None
    if amount_text:
        amount, problem = amounts.one(amount_text, currency)
        if problem:
            said.append(("amount", problem))
    for name, value in (("note", note), ("other_reason", other)):
        if problem := _text_problem(value):
            said.append((name, problem))
    if act is None:
        return None

    allowed = {
        Act.RESEND: {"new_email", "new_mobile_number", "new_delivery_method"},
        Act.REISSUE: {"new_email", "new_mobile_number", "new_delivery_method", "amount", "note"},
        Act.RESCHEDULE: {"delivery_date"},
        Act.NOTE: {"note"},
    }.get(act, set())
    given = {
        "new_email": email,
        "new_mobile_number": phone,
        "new_delivery_method": method,
        "amount": amount_text,
        "delivery_date": day,
        "note": note,
    }
    for name, text in given.items():
        if text and name not in allowed:
            said.append((name, f"{act} takes no {name}; leave it blank or change the action"))

    if method and method not in rules.METHODS:
        said.append(
            (
                "new_delivery_method",
                f"unknown delivery method {_shown(method_text)}: use "
                f"{', '.join(RESEND_METHODS if act is Act.RESEND else REISSUE_METHODS)}",
            )
        )
    elif act is Act.RESEND and method and method not in RESEND_METHODS:
        said.append(("new_delivery_method", f"a resend goes by {', '.join(RESEND_METHODS)}"))
    if act is Act.REISSUE and method and method not in REISSUE_METHODS:
        said.append(("new_delivery_method", f"a reissue goes by {', '.join(REISSUE_METHODS)}"))
    # Tango uses a resend's new contact only by the method that takes it (its document)
    sent = lines.get(reference)
    went = sent.deliveryMethod if sent else None
    if act is Act.RESEND and email and (method or went) not in (None, "EMAIL"):
        said.append(
            (
                "new_email",
                f"a resend uses a new email only by EMAIL; this one goes by {method or went}",
            )
        )
    if act is Act.RESEND and phone and (method or went or "") not in PHONED:
        said.append(
            (
                "new_mobile_number",
                f"a resend uses a new number only by text: give new_delivery_method PHONE or "
                f"WHATSAPP (the line went by {went or 'another method'}, and would go so again)",
            )
        )
    if act in (Act.RESEND, Act.REISSUE) and method in PHONED and not phone:
        detail = lines.get(reference)
        if not (detail and detail.recipient and detail.recipient.mobileNumber):
            said.append(("new_mobile_number", f"{method} needs a mobile number"))
    if act is Act.RESCHEDULE and not day:
        said.append(("delivery_date", "reschedule needs the new date, YYYY-MM-DD"))
    if act is Act.NOTE and not note:
        said.append(("note", "note needs the text of the note"))

    key = act.reason_key
    if key is None and code:
        said.append(("reason_code", f"{act} takes no reason code; leave it blank"))
    if key is not None:
        codes = reason_codes.get(key, {})
        if not code:
            said.append(("reason_code", f"{act} needs a reason code: one of {', '.join(codes)}"))
        elif code not in codes:
            said.append(
                (
                    "reason_code",
                    f"{_shown(code)} is not a {act} reason; use one of {', '.join(codes)}",
                )
            )
        elif code == "OTHER" and not other:
            said.append(("other_reason", "reason_code OTHER needs the reason in words here"))

    values = [email.lower(), phone, method, "" if amount is None else f"{amount:.2f}", day, note]
    return Planned(
        id=action_id(account, act, reference or ext, [*values, _text(cells, "repeat_key")]),
        row_number=int(str(cells[ROW])),
        action=act,
        line_id=reference,
        external_ref_line_item_id=ext or _ext_of(lines.get(reference)),
        reason_code=code or None,
        other_reason=other or None,
        new_email=email or None,
        new_mobile_number=phone or None,
        new_delivery_method=method or None,
        amount=amount,
        delivery_date=day or None,
        warning=time_not_sent(time, day) if time else None,
        note=note or None,
        currency=currency,
    )


def parse_act(text: str) -> Act | None:
    key = re.sub(r"[^a-z]", "", text.lower())
    for act in Act:
        if key == act.value:
            return act
    return ACT_SYNONYMS.get(key)


def _ext_of(detail: LineItemDetail | None) -> str:
    return (detail.externalReferenceLineItemID or "") if detail else ""


def _email_problem(email: str) -> str | None:
    """The recipients' email rules (:func:`rewards.text_checks.email_problems`), for one."""
    cells = pa.chunked_array([pa.array([email.lower()], pa.large_string())])
    _, reasons = text_checks.email_problems(cells)
    return next(iter(reasons), None)


def _text_problem(value: str) -> str | None:
    if not value:
        return None
    if value.lstrip().startswith(FORMULA_START):
        return "starts like a spreadsheet formula (= + - @); reword it"
    if any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or 0x202A <= ord(c) <= 0x202E for c in value):
        return "contains a control character or a direction override; type it again"
    if len(value) > TEXT_LIMIT:
        return f"longer than {TEXT_LIMIT} characters"
    return None


def _check_date(day: str, today: date, said: list[tuple[str, str]]) -> None:
    when = date.fromisoformat(day) if written_day(day) else None
    if when is None:
        said.append(("delivery_date", "not a date; write YYYY-MM-DD"))
        return
    first = today + timedelta(days=rules.SCHEDULE_MIN_DAYS)
    last = today + timedelta(days=rules.SCHEDULE_MAX_DAYS)
    if not first <= when <= last:
        said.append(
            (
                "delivery_date",
                f"Tango schedules {rules.SCHEDULE_MIN_DAYS}-{rules.SCHEDULE_MAX_DAYS} days "
                f"ahead: between {first} and {last}",
            )
        )


def _warned(action: Planned, line: LineItemDetail | None) -> Planned:
    """A resend of a line whose delivery failed, with no new contact or method, goes where it
    failed before: charged again, and most likely refunded again. A resend of a line resent
    before and delivered since (an old failed_deliveries file run again) sends it again."""
    new = action.new_email or action.new_mobile_number or action.new_delivery_method
    if action.action is not Act.RESEND or new or line is None:
        return action
    if not line_facts(line).delivery_failed:
        last = line.resendHistory[-1] if line.resendHistory else None
        if last is None or last.deliveryStatus == "FAILED":
            return action
        when = (last.dateIssued or "")[:10] or "before"
        return replace(
            action,
            warning=f"resent before ({when}, {last.deliveryStatus or 'pending'}): this sends "
            "the reward to its recipient again; leave the row out if that resend was the fix",
        )
    to = "email address" if line.deliveryMethod == "EMAIL" else "number"
    return replace(
        action,
        warning=f"its delivery failed, and no new contact is given: it goes to the same {to} "
        "again (charged again, refunded if it fails again); give new_email or "
        "new_mobile_number if the contact was wrong",
    )


def _with_cost(
    action: Planned,
    line: LineItemDetail | None,
    catalog: Mapping[str, CatalogItem],
    unit: Decimal | None,
    said: list[tuple[str, str]],
) -> Planned:
    """The action with what it is charged and refunded (DECISIONS.md): a reissue is charged
    its new line and refunded the old charge when the old reward was issued; a resend of a
    line whose delivery failed is charged the line again; a cancel is refunded the line's
    charge; the rest nothing."""
    if line is None:
        return action
    charged = line.amountCharged
    paid = charged.total if charged else None
    if action.action is Act.CANCEL and charged and paid:  # allowed only pending or issued
        return replace(action, refund=paid, currency=charged.currencyCode or action.currency)
    if not action.action.charged:
        return action
    item = catalog.get(line.utid or "")
    quantity = line.quantity or 1
    shown = line.amountIssued.value if line.amountIssued else None
    issued = unit if unit is not None else (shown / quantity if shown else None)
    if action.action is Act.RESEND:
        if line.status != "FAILED" or issued is None or item is None:
            return action
        value, fee = rules.line_cost(item, issued, quantity)
        return replace(action, charge=value + fee, currency=item.currencyCode)
    amount = action.amount or issued
    if amount is None:
        return action
    problem = rules.amount_problem(item, amount) if item and action.amount else None
    if problem:
        said.append(("amount", problem))
        return action
    value, fee = (
        rules.line_cost(item, amount, quantity) if item else (amount * quantity, Decimal(0))
    )
    refund = Decimal(0)
    if line.rewardStatus in ISSUED and paid:
        refund = paid
    currency = (item.currencyCode if item else None) or action.currency
    return replace(action, charge=value + fee, refund=refund, currency=currency)


def _shown(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _e164(written: str, country: str | None) -> str:
    """A number as a recipients file reads it: E.164 ('' when it cannot be made one, or its
    country does not have it)."""
    if not written:
        return ""
    number = str(phones.normalise(pd.Series([written]), country).iloc[0])
    return number if number and phones.in_plan(pa.array([number]))[0] else ""


def _mobile(e164: str) -> bool:
    """A number its country gives mobiles (as a sending run checks a text reward's)."""
    return bool(phones.in_plan(pa.array([e164]), mobile=True)[0])
