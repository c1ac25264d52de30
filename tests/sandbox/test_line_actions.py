"""What can be done to a line after its order was placed, through the client against the
sandbox over HTTP: each action's happy path, the money it moves, and each refusal (wrong
status, unknown line, reason code missing, OTHER without words, a reissue out of range)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from raas import (
    InsufficientFundsError,
    InvalidRequestError,
    NotFoundError,
    RaasClient,
    ReissueRecipient,
    Sender,
)
from sandbox import SandboxServer
from tests import helpers
from tests.conftest import fast_retry, make_settings
from tests.helpers import wait_for
from tests.sandbox.placing import FAILS, bounced, in_days, one, place, scheduled

ACTIONS = ["cancel", "freeze", "unfreeze", "reissue", "resends"]


def status_of(client: RaasClient, ref: str) -> tuple[str | None, str | None]:
    li = client.get_line_item(ref)
    return li.status, li.rewardStatus


def balance(client: RaasClient) -> Decimal:
    return client.get_account().currentBalance


def redeem(sandbox: SandboxServer, ref: str) -> None:
    sandbox.admin.post(f"/lineItems/{ref}/redeem").raise_for_status()


# --- cancel ---------------------------------------------------------------------------------


def test_cancel_an_issued_reward_refunds_it(client: RaasClient) -> None:
    ref = one(client, amount="12.50")
    before = balance(client)
    client.cancel_line_item(ref, "RECIPIENT_REQUESTED")
    assert status_of(client, ref) == ("CANCELLED", "CANCELLED")
    assert balance(client) == before + Decimal("12.50")
    line = client.get_line_item(ref)
    assert line.canCancel is False and line.amountCharged.total == 0
    assert [a.action for a in line.lineItemActionHistory] == ["CANCEL"]
    assert line.lineItemActionReason == "RECIPIENT_REQUESTED"


def test_cancel_a_scheduled_line_refunds_it_before_delivery(client: RaasClient) -> None:
    _, lines = place(client, now={}, later=scheduled())
    before = balance(client)
    client.cancel_line_item(lines["later"].referenceLineItemId, "OTHER", "no longer needed")
    assert status_of(client, lines["later"].referenceLineItemId) == ("CANCELLED", None)
    assert balance(client) == before + Decimal("10.00")


def test_cancel_refuses_a_redeemed_reward_a_failed_line_and_a_second_cancel(
    client: RaasClient, sandbox: SandboxServer
) -> None:
    redeemed, failed, cancelled = one(client), one(client, utid="U999999"), one(client)
    redeem(sandbox, redeemed)
    client.cancel_line_item(cancelled, "DUPLICATE")
    for ref, code in (
        (redeemed, "LINE_ITEM_STATUS"),
        (failed, "LINE_ITEM_STATUS"),
        (cancelled, "ALREADY_CANCELLED"),
    ):
        with pytest.raises(InvalidRequestError, match="HTTP 422") as info:
            client.cancel_line_item(ref, "DUPLICATE")
        assert info.value.errors[0].code == code


# --- freeze / unfreeze ----------------------------------------------------------------------


def test_freeze_holds_the_reward_and_hides_its_codes_until_unfrozen(client: RaasClient) -> None:
    ref, lines = place(client, a={})
    line = lines["a"].referenceLineItemId
    client.freeze_line_item(line, "VERIFY_ORDER")
    assert status_of(client, line) == ("COMPLETE", "FROZEN")
    codes = client.get_line_items_with_credentials(ref)[0].rewards
    assert codes == [] or all(not r.credentialList for r in codes)
    client.unfreeze_line_item(line, "OTHER", "verified by phone")
    assert status_of(client, line) == ("COMPLETE", "ACTIVE")
    assert client.get_line_items_with_credentials(ref)[0].rewards[0].credentialList
    history = client.get_line_item(line).rewardViewHistory
    assert [h.status for h in history] == ["ACTIVE", "FROZEN", "ACTIVE"]


def test_freeze_and_unfreeze_refuse_the_wrong_state(client: RaasClient) -> None:
    frozen, active = one(client), one(client)
    client.freeze_line_item(frozen, "FRAUD")
    with pytest.raises(InvalidRequestError, match="HTTP 422") as info:
        client.freeze_line_item(frozen, "FRAUD")
    assert info.value.errors[0].code == "ALREADY_FROZEN"
    with pytest.raises(InvalidRequestError, match="HTTP 422") as info:
        client.unfreeze_line_item(active, "FRAUD")
    assert info.value.errors[0].code == "NOT_FROZEN"
    _, lines = place(client, now={}, later=scheduled())
    with pytest.raises(InvalidRequestError, match="HTTP 422") as info:
        client.freeze_line_item(lines["later"].referenceLineItemId, "FRAUD")
    assert info.value.errors[0].code == "LINE_ITEM_STATUS"


def test_a_frozen_reward_can_still_be_cancelled_and_refunded(client: RaasClient) -> None:
    ref = one(client)
    client.freeze_line_item(ref, "FRAUD")
    before = balance(client)
    client.cancel_line_item(ref, "FRAUD")
    assert status_of(client, ref) == ("CANCELLED", "CANCELLED")
    assert balance(client) == before + Decimal("10.00")


# --- resend ---------------------------------------------------------------------------------


def test_resend_an_issued_reward_to_a_new_address_costs_nothing(client: RaasClient) -> None:
    ref = one(client)
    before = balance(client)
    sent = client.resend_line_item(ref, "NOT_RECEIVED", new_email="again@example.com")
    assert sent.id and sent.email == "again@example.com" and sent.reasonCode == "NOT_RECEIVED"
    line = client.get_line_item(ref)
    assert line.recipient.email == "again@example.com" and line.deliveryStatus == "DELIVERED"
    assert [r.deliveryStatus for r in line.resendHistory] == ["DELIVERED"]
    assert balance(client) == before


def test_a_bounced_email_resent_to_a_fixed_address_is_charged_once_and_delivered(
    client: RaasClient,
) -> None:
    ref, lines = place(client, ok={}, bounced=bounced())
    line = lines["bounced"].referenceLineItemId
    assert client.get_line_item(line).emailStatus == "BOUNCE"
    before = balance(client)
    client.resend_line_item(line, "DELIVERY_INFO", new_email="bo@example.com")
    assert balance(client) == before - Decimal("10.00")
    delivered = wait_for(lambda: (li := client.get_line_item(line)).status == "COMPLETE" and li)
    assert delivered.emailStatus == "DELIVERED" and delivered.amountCharged.total == 10
    summary = client.get_async_order(ref)
    assert summary.orderStatus == "COMPLETE" and summary.amountCharged.total == 20


def test_a_resend_that_bounces_again_is_refunded_again(client: RaasClient) -> None:
    line = one(client, **bounced())
    before = balance(client)
    client.resend_line_item(line, "DELIVERY_INFO", new_email=f"still{FAILS}")
    wait_for(lambda: client.get_line_item(line).status == "FAILED")
    assert balance(client) == before


def test_a_failed_line_reissued_is_not_resent_too(client: RaasClient) -> None:
    """A failed line stays FAILED when reissued: resending it as well would deliver a second
    reward (the replacement is the line to act on)."""
    line = one(client, **bounced())
    wait_for(lambda: client.get_line_item(line).status == "FAILED")
    new = client.reissue_line_item(line, "DELIVERY_INFO").referenceLineItemID
    # the replacement goes to the same bouncing address: its refund lands when it fails, so
    # the balance is read once it has
    wait_for(lambda: client.get_line_item(new).status == "FAILED")
    before = balance(client)
    with pytest.raises(InvalidRequestError, match="HTTP 400") as info:
        client.resend_line_item(line, "DELIVERY_INFO", new_email="bo@example.com")
    assert [e.code for e in info.value.errors] == ["ALREADY_REISSUED"] and new in str(info.value)
    assert balance(client) == before and not client.get_line_item(line).resendHistory


def test_resend_refuses_what_it_cannot_send(client: RaasClient, sandbox: SandboxServer) -> None:

    never_issued = one(client, utid="U999999")
    redeemed = one(client)
    redeem(sandbox, redeemed)
    frozen = one(client)
    client.freeze_line_item(frozen, "FRAUD")
    _, lines = place(client, now={}, later=scheduled())
    for ref in (never_issued, redeemed, frozen, lines["later"].referenceLineItemId):
        with pytest.raises(InvalidRequestError, match="HTTP 400") as info:
            client.resend_line_item(ref, "NOT_RECEIVED")
        assert info.value.errors[0].code == "LINE_ITEM_STATUS"
    ok = one(client)
    with pytest.raises(InvalidRequestError, match="newEmail"):
        client.resend_line_item(ok, "DELIVERY_INFO", new_email="not-an-address")
    with pytest.raises(InvalidRequestError, match="newMobileNumber"):
        client.resend_line_item(ok, "DELIVERY_METHOD", new_delivery_method="PHONE")


def test_resend_of_a_failed_line_needs_the_balance(fresh_sandbox: SandboxServer) -> None:
    settings = make_settings(fresh_sandbox, account_identifier="sandbox-low")
    with RaasClient(settings, retry=fast_retry()) as low:
        line = one(low, amount="45", **bounced())  # the balance is 50: refunded, 50 again
        spend = helpers.order("spend-it", [helpers.line("x", amount="30")], account="sandbox-low")
        low.create_async_order(spend)
        with pytest.raises(InsufficientFundsError, match="HTTP 400"):
            low.resend_line_item(line, "DELIVERY_INFO", new_email="ok@example.com")
        assert low.get_line_item(line).status == "FAILED"


# --- reissue --------------------------------------------------------------------------------


def test_reissue_replaces_the_reward_charges_the_new_and_refunds_the_old(
    client: RaasClient,
) -> None:
    ref, lines = place(client, a={"amount": "20"})
    old = lines["a"].referenceLineItemId
    before = balance(client)
    new = client.reissue_line_item(
        old,
        "REWARD_AMOUNT",
        amount=Decimal("35"),
        recipient=ReissueRecipient(email="new@example.com"),
    )
    assert new.referenceOrderID == lines["a"].referenceLineItemId.rsplit("-", 1)[0]
    assert new.status == "PENDING" and new.amountCharged.total == 35
    assert balance(client) == before + Decimal("20") - Decimal("35")
    assert status_of(client, old) == ("CANCELLED", "CANCELLED")
    assert client.get_line_item(old).reissuedToReferenceLineItemId == new.referenceLineItemID
    done = wait_for(
        lambda: (li := client.get_line_item(new.referenceLineItemID)).status == "COMPLETE" and li
    )
    assert done.reissuedFromReferenceLineItemId == old and done.recipient.email == "new@example.com"
    assert done.externalReferenceLineItemID == "a-R2"
    summary = client.get_async_order_summary(ref)
    assert summary.totalLineItems == 2 and summary.amountCharged.total == 35


def test_reissue_of_a_bounced_line_charges_only_the_new_reward(client: RaasClient) -> None:
    line = one(client, **bounced())
    before = balance(client)
    new = client.reissue_line_item(
        line, "RECIPIENT", recipient=ReissueRecipient(email="right@example.com")
    )
    assert balance(client) == before - Decimal("10.00")
    assert status_of(client, line)[0] == "FAILED"  # it was refunded when it bounced
    wait_for(lambda: client.get_line_item(new.referenceLineItemID).status == "COMPLETE")


def test_a_reissue_repeated_answers_the_same_replacement(client: RaasClient) -> None:
    """The same reissue again (a retry after a lost answer) answers its replacement; one
    asking for something else is refused, naming the replacement: it was answered as done
    (and priced by the caller) while nothing was applied."""
    line = one(client)
    first = client.reissue_line_item(line, "REWARD_AMOUNT", amount=Decimal("11"))
    before = balance(client)
    again = client.reissue_line_item(line, "REWARD_AMOUNT", amount=Decimal("11"))
    assert again.referenceLineItemID == first.referenceLineItemID
    assert again.amountCharged.total == 11 and balance(client) == before
    with pytest.raises(InvalidRequestError, match="HTTP 422") as info:
        client.reissue_line_item(line, "REWARD_AMOUNT", amount=Decimal("99"))
    assert [e.code for e in info.value.errors] == ["ALREADY_REISSUED"]
    assert first.referenceLineItemID in str(info.value) and balance(client) == before


def test_reissue_refuses_an_amount_out_of_range_and_changes_nothing(client: RaasClient) -> None:
    line = one(client)
    before = balance(client)
    with pytest.raises(InvalidRequestError, match="HTTP 422") as info:
        client.reissue_line_item(line, "REWARD_AMOUNT", amount=Decimal("5000"))
    assert [(e.field, e.code) for e in info.value.errors] == [("amount", "INVALID_AMOUNT")]
    assert status_of(client, line) == ("COMPLETE", "ACTIVE") and balance(client) == before


def test_reissue_refuses_the_wrong_state(client: RaasClient, sandbox: SandboxServer) -> None:
    redeemed, cancelled, never_issued = one(client), one(client), one(client, utid="U999999")
    redeem(sandbox, redeemed)
    client.cancel_line_item(cancelled, "DUPLICATE")
    _, lines = place(client, now={}, later=scheduled())
    for ref in (redeemed, cancelled, never_issued, lines["later"].referenceLineItemId):
        with pytest.raises(InvalidRequestError, match="HTTP 422") as info:
            client.reissue_line_item(ref, "OTHER", "try")
        assert info.value.errors[0].code == "LINE_ITEM_STATUS"


def test_reissue_beyond_the_balance_is_insufficient_funds(fresh_sandbox: SandboxServer) -> None:
    settings = make_settings(fresh_sandbox, account_identifier="sandbox-low")
    with RaasClient(settings, retry=fast_retry()) as low:
        line = one(low, amount="30")  # balance 50 -> 20; the old 30 back makes 50
        with pytest.raises(InsufficientFundsError, match="HTTP 422"):
            low.reissue_line_item(line, "REWARD_AMOUNT", amount=Decimal("60"))
        assert status_of(low, line) == ("COMPLETE", "ACTIVE")
        assert low.get_account().currentBalance == Decimal("20")


# --- refusals every action shares ------------------------------------------------------------


@pytest.mark.parametrize("action", ACTIONS)
def test_an_unknown_line_is_refused(client: RaasClient, action: str) -> None:
    expected = NotFoundError if action == "resends" else InvalidRequestError
    with pytest.raises(expected, match="not found"):
        client._send(
            "POST",
            f"/lineItems/RA000000-000000-00-0001/{action}",
            body={"reasonCode": "OTHER", "otherReason": "x"},
        )


@pytest.mark.parametrize("action", ACTIONS)
def test_a_missing_reason_code_is_refused(client: RaasClient, action: str) -> None:
    line = one(client)
    with pytest.raises(InvalidRequestError, match="HTTP 400") as info:
        client._send("POST", f"/lineItems/{line}/{action}", body={"otherReason": "why not"})
    assert [e.field for e in info.value.errors] == ["reasonCode"]


@pytest.mark.parametrize("action", ACTIONS)
def test_other_without_words_is_refused(client: RaasClient, action: str) -> None:
    line = one(client)
    with pytest.raises(InvalidRequestError, match="HTTP 400") as info:
        client._send("POST", f"/lineItems/{line}/{action}", body={"reasonCode": "OTHER"})
    assert [e.field for e in info.value.errors] == ["otherReason"]
    assert status_of(client, line) == ("COMPLETE", "ACTIVE")


def test_the_client_refuses_other_without_words_before_sending(client: RaasClient) -> None:
    sent = client.requests_sent
    with pytest.raises(ValidationError, match="otherReason"):
        client.cancel_line_item("RA000000-000000-00-0001", "OTHER")
    assert client.requests_sent == sent


# --- changes that deliver nothing ------------------------------------------------------------


def test_a_scheduled_line_is_moved_and_its_sender_and_note_changed(client: RaasClient) -> None:
    _, lines = place(client, now={}, later=scheduled())
    line = lines["later"].referenceLineItemId
    when = in_days(30)
    changed = client.update_async_line_item(
        line,
        delivery_date=when,
        sender=Sender(firstName="Grace", email="g@example.com"),
        note="moved",
    )
    assert changed.deliveryDate.startswith(when) and changed.note == "moved"
    assert changed.senderInfo.firstName == "Grace"
    assert client.get_line_item(line).sender.email == "g@example.com"


def test_moving_a_date_is_refused_outside_the_window_or_on_a_delivered_line(
    client: RaasClient,
) -> None:
    _, lines = place(client, now={}, later=scheduled())
    with pytest.raises(InvalidRequestError, match="HTTP 400") as info:
        client.update_async_line_item(lines["later"].referenceLineItemId, delivery_date=in_days(3))
    assert info.value.errors[0].field == "deliveryDate"
    with pytest.raises(InvalidRequestError, match="HTTP 400") as info:
        client.update_async_line_item(lines["now"].referenceLineItemId, delivery_date=in_days(20))
    assert info.value.errors[0].code == "LINE_ITEM_STATUS"
    with pytest.raises(NotFoundError):
        client.update_async_line_item("RA000000-000000-00-0001", note="x")
    with pytest.raises(ValidationError, match="at least one"):
        client.update_async_line_item(lines["now"].referenceLineItemId)


def test_an_order_and_a_line_get_their_own_bookkeeping(client: RaasClient) -> None:
    ref, lines = place(client, a={}, b={})
    summary = client.update_async_order(
        ref, campaign="spring", purchase_order_number="PO-7", notes="ok"
    )
    assert (summary.campaign, summary.purchaseOrderNumber, summary.notes) == (
        "spring",
        "PO-7",
        "ok",
    )
    client.update_line_item(
        lines["b"].referenceLineItemId, campaign="spring b", order_notes="b only"
    )
    a, b = (client.get_line_item(lines[n].referenceLineItemId) for n in ("a", "b"))
    assert (a.campaign, a.orderNotes) == ("spring", "ok")
    assert (b.campaign, b.orderNotes, b.purchaseOrderNumber) == ("spring b", "b only", "PO-7")
    with pytest.raises(InvalidRequestError, match="HTTP 400"):
        client.update_async_order("no-such-order", notes="x")
    with pytest.raises(InvalidRequestError, match="HTTP 400"):
        client.update_line_item("RA000000-000000-00-0001", campaign="x")
