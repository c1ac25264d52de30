"""Finding line items through the client against the sandbox over HTTP: one line and its
histories, the list with its filters and keyset pages, the reason codes, an embedded line's
URL; and no reward code reaches the client's models by these ways."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest

from raas import (
    CancelReason,
    FreezeReason,
    InvalidRequestError,
    NotFoundError,
    RaasClient,
    ReissueReason,
    ResendReason,
)
from tests.helpers import Receiver, wait_for
from tests.sandbox.placing import FAILS, bounced, one, place


def test_one_line_with_its_order_account_and_histories(client: RaasClient) -> None:
    lines = place(client, a={"amount": "15"})[1]
    line = lines["a"].referenceLineItemId
    client.resend_line_item(line, "REMINDER")
    detail = client.get_line_item(line)
    assert (detail.referenceOrderID, detail.customerIdentifier, detail.accountIdentifier) == (
        line.rsplit("-", 1)[0],
        "sandbox-customer",
        "sandbox-usd",
    )
    assert detail.accountNumber and detail.orderSource == "RA" and detail.lineNumber == 1
    assert detail.amountIssued.value == 15 and detail.remainingBalance == 15
    assert (detail.status, detail.emailStatus, detail.canCancel, detail.canFreeze) == (
        "COMPLETE",
        "DELIVERED",
        True,
        True,
    )
    assert [r.reasonCode for r in detail.resendHistory] == ["REMINDER"]
    assert [a.action for a in detail.lineItemActionHistory] == ["RESEND"]
    with pytest.raises(NotFoundError, match="HTTP 404"):
        client.get_line_item("RA000000-000000-00-0001")


def test_the_client_keeps_no_reward_code_from_a_line_or_a_reissue(client: RaasClient) -> None:
    lines = place(client, a={})[1]
    line = lines["a"].referenceLineItemId
    raw = client._http.get(f"/lineItems/{line}").json()
    codes = [c["value"] for c in raw["reward"]["credentialList"]]
    assert codes and all("SBXSECRET" in c for c in codes)  # Tango's answer carries them
    kept = client.get_line_item(line).model_dump_json()
    new = client.reissue_line_item(line, "OTHER", "secrecy check")
    assert not any(c in kept for c in codes) and "SBXSECRET" not in kept
    assert "credential" not in new.model_dump_json().lower()


def test_lines_are_found_by_order_recipient_and_status(client: RaasClient) -> None:
    ref, lines = place(
        client,
        ok={"recipient": {"email": f"ok-{uuid4().hex[:6]}@example.com"}},
        bounced=bounced(),
        refused={"utid": "U999999"},
    )
    assert {li.externalReferenceLineItemID for li in client.iter_line_items(externalRefID=ref)} == {
        "ok",
        "bounced",
        "refused",
    }
    email = lines["ok"].recipient.email
    assert [li.referenceLineItemID for li in client.iter_line_items(recipientEmail=email)] == [
        lines["ok"].referenceLineItemId
    ]
    bounced_here = client.list_line_items(externalRefID=ref, emailStatus="BOUNCE").lineItems
    assert [li.externalReferenceLineItemID for li in bounced_here] == ["bounced"]
    failed = client.list_line_items(externalRefID=ref, status="FAILED").lineItems
    assert {li.externalReferenceLineItemID for li in failed} == {"bounced", "refused"}
    refused = next(li for li in failed if li.externalReferenceLineItemID == "refused")
    assert refused.lineItemErrors[0].error_code == "UTID_NOT_FOUND"


def test_the_list_pages_by_keys_both_ways(client: RaasClient) -> None:
    campaign = f"pages-{uuid4().hex[:6]}"
    ref, _ = place(client, **{f"p{i}": {"amount": "1"} for i in range(7)})
    client.update_async_order(ref, campaign=campaign)
    first = client.list_line_items(campaign=campaign, elementsPerBlock=3)
    assert first.keysetPage.totalCount == 7 and first.keysetPage.previousPageKeys == []
    names = [li.externalReferenceLineItemID for li in first.lineItems]
    assert names == ["p6", "p5", "p4"]  # newest first
    keys = first.keysetPage.nextPageKeys
    second = client.list_line_items(campaign=campaign, elementsPerBlock=3, pageKeys=keys[0])
    assert [li.externalReferenceLineItemID for li in second.lineItems] == ["p3", "p2", "p1"]
    back = client.list_line_items(
        campaign=campaign,
        elementsPerBlock=3,
        pageKeys=second.keysetPage.previousPageKeys[0],
        pagePrevious="true",
    )
    assert [li.externalReferenceLineItemID for li in back.lineItems] == names
    every = list(
        client.iter_line_items(campaign=campaign, elementsPerBlock=2, columnSortAscending="true")
    )
    assert [li.externalReferenceLineItemID for li in every] == [f"p{i}" for i in range(7)]


def test_the_list_refuses_what_it_cannot_sort_by(client: RaasClient) -> None:
    with pytest.raises(InvalidRequestError, match="columnSortName"):
        client.list_line_items(columnSortName="rewardName")


def test_reason_codes_are_the_documents_with_their_meaning(client: RaasClient) -> None:
    rewards = client.get_line_item_reason_codes()
    assert set(rewards.CANCEL) == {c.value for c in CancelReason}
    assert set(rewards.FREEZE) == set(rewards.UNFREEZE) == {c.value for c in FreezeReason}
    assert set(rewards.CANCEL_AND_REISSUE) == {c.value for c in ReissueReason}
    by_action = client.get_async_reason_codes().reasonCodes
    assert set(by_action["RESEND"]) == {c.value for c in ResendReason}
    assert all(meaning for codes in by_action.values() for meaning in codes.values())


def test_an_embedded_reward_has_a_url_and_others_do_not(client: RaasClient) -> None:
    embedded = one(client, utid="U100005", amount="30", deliveryMethod="EMBEDDED")
    assert client.get_embedded_url(embedded).startswith("https://")
    emailed = one(client)
    with pytest.raises(InvalidRequestError, match="HTTP 400"):
        client.get_embedded_url(emailed)
    client.freeze_line_item(embedded, "FRAUD")
    with pytest.raises(InvalidRequestError, match="FROZEN"):
        client.get_embedded_url(embedded)


def _events(rx: Receiver, kind: str) -> list[dict]:
    bodies = [json.loads(body) for _, body in rx.requests]
    return [b["eventData"] for b in bodies if b["eventType"] == kind]


def test_actions_are_announced_as_tango_would(client: RaasClient) -> None:
    with Receiver() as rx:
        sub = client.create_webhook(
            rx.url,
            verification="NONE",
            event_types=["RewardStatus", "LineItemDeliveryStatus", "AsyncOrderStatus"],
        )
        ref, lines = place(client, ok={}, bounced=bounced())
        ok, bad = lines["ok"].referenceLineItemId, lines["bounced"].referenceLineItemId
        client.freeze_line_item(ok, "FRAUD")
        client.resend_line_item(bad, "DELIVERY_INFO", new_email="fine@example.com")
        wait_for(
            lambda: (
                len([e for e in _events(rx, "AsyncOrderStatus") if e["externalRefID"] == ref]) == 2
            )
        )
        deliveries = [
            (e["referenceLineItemId"], e["status"]) for e in _events(rx, "LineItemDeliveryStatus")
        ]
        assert [s for r, s in deliveries if r == bad] == ["FAILED", "DELIVERED"]
        changes = [e for e in _events(rx, "RewardStatus") if e["referenceLineItemId"] == ok]
        assert [(e["action"], e["status"], e["reasonCode"]) for e in changes] == [
            ("FREEZE", "FROZEN", "FRAUD")
        ]
        statuses = [
            e["status"] for e in _events(rx, "AsyncOrderStatus") if e["externalRefID"] == ref
        ]
        assert statuses == ["PARTIALFAILED", "SUCCESSFUL"]  # once more after the resend
        client.delete_webhook(sub.webhookId)


def test_an_email_never_delivered_shows_so(client: RaasClient) -> None:
    line = one(client, recipient={"email": f"x{FAILS}"})
    assert client.get_line_item(line).emailStatus == "BOUNCE"
    phone = one(client, deliveryMethod="PHONE", recipient={"mobileNumber": "+14155550100"})
    assert client.get_line_item(phone).emailStatus == "NOT_DELIVERED"
