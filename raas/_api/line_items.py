"""Line items after their order was placed."""

from __future__ import annotations

from typing import Any

from .._transport import Transport


class LineItemsAPI(Transport):
    def cancel_line_item(
        self,
        reference_line_item_id: str,
        reason_code: str = "OTHER",
        other_reason: str | None = None,
    ) -> None:
        body: dict[str, Any] = {"reasonCode": reason_code}
        if other_reason:
            body["otherReason"] = other_reason
        self._send("POST", f"/lineItems/{reference_line_item_id}/cancel", body=body)
