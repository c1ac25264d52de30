"""A line's whole life, in time order: how this ledger sent it, what Tango says happened to
it (deliveries, resends, freezes, reissues, reward states) and each action taken on it, with
who and why (``rewards history LINE``). Contacts masked; no credential is ever read."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from raas import LineItemDetail, NotFoundError, RaasClient

from .errors import RewardsError
from .export import mask_email, masked_contact
from .ledger import Ledger, delivery_failed


@dataclass(frozen=True)
class Event:
    at: str  # ISO time (UTC) as recorded
    source: str  # "ledger" or "Tango"
    what: str


def line_history(book: Ledger, client: RaasClient, line: str) -> list[Event]:
    """``line``: Tango's referenceLineItemId (the report's ``reference_line_item_id``) or the
    line's externalRefLineItemID (the report's ``external_ref_line_item_id``, what Tango's
    portal shows). Raises :class:`UnknownLineError` when neither the ledger nor Tango knows it."""
    sent = book.sent_line(line)
    reference = (sent or {}).get("reference_line_item_id") or line
    events: list[Event] = []
    if sent:
        events.append(
            Event(
                sent["planned_at"] or "",
                "ledger",
                f"planned in batch {sent['batch_id']} from {sent['source_name']} row "
                f"{sent['row_number']}: {sent['amount']} {sent['currency']}, order "
                f"{sent['external_ref_id']} (line {sent['external_ref_line_item_id']})",
            )
        )
        if sent["accepted_at"]:
            by = f" (run {sent['sent_by']})" if sent["sent_by"] else ""
            events.append(Event(sent["accepted_at"], "ledger", f"order accepted by Tango{by}"))
    failures = book.delivery_failures(reference)
    for f in failures:
        events.append(
            Event(f["at"], "ledger", f"delivery failed: {_masked(f.get('reason') or '?')}")
        )
    actions = book.line_actions(reference)
    for a in actions:
        who = f"run {a.run_id}" if a.run_id else "no run yet"
        who += f", approved by {a.approver}" if a.approver else ""
        events.append(
            Event(
                a.done_at or a.planned_at,
                "ledger",
                f"{a.action} {a.state.value} ({who}): {a.answer or 'no answer from Tango yet'}",
            )
        )
    try:
        found = client.get_line_item(reference)
    except NotFoundError:
        if not (sent or actions):
            raise UnknownLineError(line) from None
        events.append(Event("", "Tango", f"Tango has no line {reference}"))
        return sorted(events, key=lambda e: e.at)
    events += _tango_events(found, sent, failed_before=bool(failures))
    return sorted(events, key=lambda e: e.at)


class UnknownLineError(RewardsError):
    """Neither the ledger nor Tango knows the line asked about."""

    def __init__(self, line: str) -> None:
        super().__init__(
            f"{line}: nothing is known of that line, neither in the ledger nor at Tango; give "
            "Tango's referenceLineItemId (the report's reference_line_item_id) or its "
            "externalRefLineItemID (the report's external_ref_line_item_id)"
        )


def _tango_events(
    line: LineItemDetail, sent: dict[str, Any] | None, *, failed_before: bool
) -> list[Event]:
    """What Tango says: where the reward went (issued, scheduled, failed), each resend, each
    action, the reward's states, and where the line is now."""
    to = f"by {line.deliveryMethod or '?'} to {_contact(line.recipient, line.deliveryMethod)}"
    status = (line.status or "").upper()
    scheduled = (sent or {}).get("scheduled_delivery_date")
    events: list[Event] = []
    if delivery_failed(line.status, line.deliveryStatus):
        events.append(Event(line.dateIssued or "", "Tango", f"placed, {to}"))
        if not failed_before:  # the ledger did not hear of it: Tango's word, undated there
            why = "; ".join(e.error_message or e.error_code or "" for e in line.lineItemErrors)
            at = (sent or {}).get("completed_at") or ""
            events.append(
                Event(at, "Tango", f"delivery failed: {_masked(why) or 'no reason given'}")
            )
    elif scheduled and status != "COMPLETE" and not line.rewardStatus:
        # held till its date (or cancelled before it): no reward exists yet
        events.append(
            Event(
                (sent or {}).get("accepted_at") or line.dateIssued or "",
                "Tango",
                f"scheduled for delivery on {scheduled} {to} (not issued yet)",
            )
        )
    elif status == "PENDING":
        events.append(Event(line.dateIssued or "", "Tango", f"placed, {to} (not issued yet)"))
    else:
        events.append(Event(line.dateIssued or "", "Tango", f"issued {to}"))
    for r in line.resendHistory:
        events.append(
            Event(
                r.dateIssued or "",
                "Tango",
                f"resent by {r.deliveryMethod} to {_contact(r.recipient, r.deliveryMethod)}: "
                f"{r.deliveryStatus or 'pending'} ({r.reasonCode or 'no reason'})",
            )
        )
    for h in line.lineItemActionHistory:
        new = f", new line {h.newReferenceLineItemId}" if h.newReferenceLineItemId else ""
        events.append(
            Event(h.actionDate or "", "Tango", f"{h.action} ({h.reason or 'no reason'}){new}")
        )
    for v in line.rewardViewHistory:
        events.append(Event(v.date or "", "Tango", f"reward {v.status}"))
    replaced = (
        f", replaced by {line.reissuedToReferenceLineItemId}"
        if line.reissuedToReferenceLineItemId
        else ""
    )
    events.append(
        Event(
            "~now",
            "Tango",
            f"now: {line.status}, delivery {line.deliveryStatus or '-'}, reward "
            f"{line.rewardStatus or '-'}{replaced}",
        )
    )
    return events


def _masked(text: str) -> str:
    """Tango's words about a failure, any email address in them masked."""
    return EMAIL_IN_TEXT.sub(lambda m: mask_email(m.group()), text)


EMAIL_IN_TEXT = re.compile(r"[^\s@<>()\"',;:]+@[^\s@<>()\"',;:]+")


def _contact(recipient: object, method: str | None) -> str:
    email = getattr(recipient, "email", None)
    phone = getattr(recipient, "mobileNumber", None)
    if isinstance(recipient, dict):
        email, phone = recipient.get("email"), recipient.get("mobileNumber")
    return masked_contact(method, email, phone)
