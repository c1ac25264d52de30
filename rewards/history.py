"""A line's whole life, in time order: how this ledger sent it, what Tango says happened to
it (deliveries, resends, freezes, reissues, reward states) and each action taken on it, with
who and why (``rewards history LINE``). Contacts masked; no credential is ever read."""

from __future__ import annotations

from dataclasses import dataclass

from raas import NotFoundError, RaasClient

from .export import mask_email, mask_phone
from .ledger import Ledger


@dataclass(frozen=True)
class Event:
    at: str  # ISO time (UTC) as recorded
    source: str  # "ledger" or "Tango"
    what: str


def line_history(book: Ledger, client: RaasClient, reference: str) -> list[Event]:
    events: list[Event] = []
    sent = book.sent_line(reference)
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
    for a in book.line_actions(reference):
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
        line = client.get_line_item(reference)
    except NotFoundError:
        events.append(Event("", "Tango", f"Tango has no line {reference}"))
        return sorted(events, key=lambda e: e.at)
    events.append(
        Event(
            line.dateIssued or "",
            "Tango",
            f"issued by {line.deliveryMethod or '?'} to {_contact(line.recipient)}",
        )
    )
    for r in line.resendHistory:
        to = _contact(r.recipient)
        events.append(
            Event(
                r.dateIssued or "",
                "Tango",
                f"resent by {r.deliveryMethod} to {to}: {r.deliveryStatus or 'pending'} "
                f"({r.reasonCode or 'no reason'})",
            )
        )
    for h in line.lineItemActionHistory:
        new = f", new line {h.newReferenceLineItemId}" if h.newReferenceLineItemId else ""
        events.append(
            Event(h.actionDate or "", "Tango", f"{h.action} ({h.reason or 'no reason'}){new}")
        )
    for v in line.rewardViewHistory:
        events.append(Event(v.date or "", "Tango", f"reward {v.status}"))
    events.append(
        Event(
            "~now",
            "Tango",
            f"now: {line.status}, delivery {line.deliveryStatus or '-'}, reward "
            f"{line.rewardStatus or '-'}"
            + (
                f", replaced by {line.reissuedToReferenceLineItemId}"
                if line.reissuedToReferenceLineItemId
                else ""
            ),
        )
    )
    return sorted(events, key=lambda e: e.at)


def _contact(recipient: object) -> str:
    email = getattr(recipient, "email", None)
    phone = getattr(recipient, "mobileNumber", None)
    if isinstance(recipient, dict):
        email, phone = recipient.get("email"), recipient.get("mobileNumber")
    return mask_email(email) if email else mask_phone(phone) if phone else "no contact"
