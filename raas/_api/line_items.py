"""Line items after their order was placed: find them, act on them, the actions' reason codes.

Which of these POSTs are retried after a 5xx or a timeout, and why (docs/tango/DECISIONS.md):
cancel, freeze and unfreeze are state changes Tango applies at most once, and a repeat is
refused as "already so", which after an uncertain attempt means it was done; a reissue of a
line already reissued answers its replacement; a resend is not retried (a repeat would deliver
the reward again). The PATCHes set values, so they repeat safely.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from .. import _errors as errors
from .._line_items import (
    AsyncLineItemUpdate,
    AsyncReasonCodes,
    CancelLineItemCriteria,
    CancelReason,
    FreezeLineItemCriteria,
    FreezeReason,
    LineItemDetail,
    LineItemList,
    LineItemSummary,
    ReissueDeliveryMethod,
    ReissuedLineItem,
    ReissueLineItemCriteria,
    ReissueReason,
    ReissueRecipient,
    ResendDeliveryMethod,
    ResendLineItemCriteria,
    ResendReason,
    ResendView,
    RewardReasons,
    UnfreezeLineItemCriteria,
    UpdateAsyncLineItemCriteria,
    UpdateLineItemCriteria,
)
from .._models import Sender, _Wire
from .._transport import Transport


def _already(*codes: str) -> Callable[[errors.APIStatusError], bool]:
    """A refusal saying the line is already in the state the action leads to."""

    def accepts(failure: errors.APIStatusError) -> bool:
        return failure.http_code == 422 and any(e.code in codes for e in failure.errors)

    return accepts


def _without_credentials(body: Any) -> Any:
    """Tango's answer with the reward's codes taken out, before anything parses or keeps it."""
    if isinstance(body, dict) and isinstance(body.get("reward"), dict):
        body["reward"] = {
            k: v for k, v in body["reward"].items() if k not in ("credentials", "credentialList")
        }
    return body


def _dump(model: _Wire) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


class LineItemsAPI(Transport):
    # --- finding line items ------------------------------------------------------------------

    def get_line_item(self, reference_line_item_id: str) -> LineItemDetail:
        """One line with its histories. Tango's answer carries the reward's credentials;
        they are dropped here (``get_line_items_with_credentials`` is the way to them)."""
        body = self._json("GET", f"/lineItems/{reference_line_item_id}")
        return LineItemDetail.model_validate(_without_credentials(body))

    def list_line_items(self, **filters: Any) -> LineItemList:
        """One page of ``GET /lineItems``. Filters use Tango's query names (``externalRefID``,
        ``referenceOrderID``, ``status``, ``emailStatus``, ``recipientEmail``, ...); the next
        page is ``pageKeys=<keysetPage.nextPageKeys>``."""
        return LineItemList.model_validate(self._json("GET", "/lineItems", params=filters))

    def iter_line_items(self, **filters: Any) -> Iterator[LineItemSummary]:
        keys = filters.pop("pageKeys", None)
        while True:
            page = self.list_line_items(**filters, pageKeys=keys)
            yield from page.lineItems
            if not page.keysetPage.nextPageKeys:
                return
            keys = ",".join(page.keysetPage.nextPageKeys)

    def get_embedded_url(self, reference_line_item_id: str) -> str:
        """SECRET: the URL an embedded reward is shown at (whoever has it has the reward)."""
        return str(self._json("GET", f"/lineItems/{reference_line_item_id}/embeddedUrl")["url"])

    def get_line_item_reason_codes(self) -> RewardReasons:
        return RewardReasons.model_validate(self._json("GET", "/lineItems/reasonCodes"))

    def get_async_reason_codes(self) -> AsyncReasonCodes:
        return AsyncReasonCodes.model_validate(self._json("GET", "/asyncOrders/reasonCodes"))

    # --- actions -----------------------------------------------------------------------------

    def cancel_line_item(
        self,
        reference_line_item_id: str,
        reason_code: CancelReason | str,
        other_reason: str | None = None,
    ) -> None:
        """Cancel a pending line or an unredeemed reward; Tango refunds its charge."""
        why = CancelLineItemCriteria(reasonCode=reason_code, otherReason=other_reason)
        self._send(
            "POST",
            f"/lineItems/{reference_line_item_id}/cancel",
            body=_dump(why),
            repeatable=True,
            done_if=_already("ALREADY_CANCELLED"),
        )

    def freeze_line_item(
        self,
        reference_line_item_id: str,
        reason_code: FreezeReason | str,
        other_reason: str | None = None,
    ) -> None:
        why = FreezeLineItemCriteria(reasonCode=reason_code, otherReason=other_reason)
        self._send(
            "POST",
            f"/lineItems/{reference_line_item_id}/freeze",
            body=_dump(why),
            repeatable=True,
            done_if=_already("ALREADY_FROZEN"),
        )

    def unfreeze_line_item(
        self,
        reference_line_item_id: str,
        reason_code: FreezeReason | str,
        other_reason: str | None = None,
    ) -> None:
        why = UnfreezeLineItemCriteria(reasonCode=reason_code, otherReason=other_reason)
        self._send(
            "POST",
            f"/lineItems/{reference_line_item_id}/unfreeze",
            body=_dump(why),
            repeatable=True,
            done_if=_already("NOT_FROZEN"),
        )

    def resend_line_item(
        self,
        reference_line_item_id: str,
        reason_code: ResendReason | str,
        other_reason: str | None = None,
        *,
        new_email: str | None = None,
        new_mobile_number: str | None = None,
        new_delivery_method: ResendDeliveryMethod | str | None = None,
    ) -> ResendView:
        """Deliver the reward again, to a new contact if given. Not retried after a 5xx or a
        timeout: a repeat would deliver it twice (a failed line is charged once either way)."""
        why = ResendLineItemCriteria(
            reasonCode=reason_code,
            otherReason=other_reason,
            newEmail=new_email,
            newMobileNumber=new_mobile_number,
            newDeliveryMethod=new_delivery_method,
        )
        path = f"/lineItems/{reference_line_item_id}/resends"
        return ResendView.model_validate(self._json("POST", path, body=_dump(why)))

    def reissue_line_item(
        self,
        reference_line_item_id: str,
        reason_code: ReissueReason | str,
        other_reason: str | None = None,
        *,
        amount: Decimal | None = None,
        delivery_method: ReissueDeliveryMethod | str | None = None,
        recipient: ReissueRecipient | None = None,
        notes: str | None = None,
    ) -> ReissuedLineItem:
        """A new reward replacing the line's (charged; the old one refunded). Safe to repeat:
        a line already reissued answers its replacement."""
        why = ReissueLineItemCriteria(
            reasonCode=reason_code,
            otherReason=other_reason,
            amount=amount,
            deliveryMethod=delivery_method,
            recipient=recipient,
            notes=notes,
        )
        path = f"/lineItems/{reference_line_item_id}/reissue"
        body = self._json("POST", path, body=_dump(why), repeatable=True)
        return ReissuedLineItem.model_validate(_without_credentials(body))

    # --- changes that deliver nothing --------------------------------------------------------

    def update_async_line_item(
        self,
        reference_line_item_id: str,
        *,
        delivery_date: str | None = None,
        sender: Sender | None = None,
        note: str | None = None,
    ) -> AsyncLineItemUpdate:
        """Move a scheduled line's delivery date, change its sender (before delivery) or note."""
        change = UpdateAsyncLineItemCriteria(
            deliveryDate=delivery_date, senderInfo=sender, lineItemNote=note
        )
        path = f"/asyncOrders/lineItems/{reference_line_item_id}"
        return AsyncLineItemUpdate.model_validate(self._json("PATCH", path, body=_dump(change)))

    def update_line_item(
        self,
        reference_line_item_id: str,
        *,
        campaign: str | None = None,
        purchase_order_number: str | None = None,
        order_notes: str | None = None,
    ) -> None:
        change = UpdateLineItemCriteria(
            campaign=campaign, purchaseOrderNumber=purchase_order_number, orderNotes=order_notes
        )
        self._send("PATCH", f"/lineItems/{reference_line_item_id}", body=_dump(change))
