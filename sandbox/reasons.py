"""The reason codes each line-item action takes (the document's enums) and what each means
(our words: the document lists the codes only)."""

from __future__ import annotations

from raas._line_items import CancelReason, FreezeReason, ReissueReason, ResendReason

MEANING = {
    "DELIVERY_INFO": "The delivery information was wrong",
    "REWARD_AMOUNT": "The reward amount was wrong",
    "REWARD_TYPE": "The reward type was wrong",
    "RECIPIENT": "The recipient was wrong",
    "CURRENCY": "The currency was wrong",
    "RECIPIENT_REQUESTED": "The recipient asked for it",
    "RECIPIENT_OBLIGATIONS": "The recipient did not meet their obligations",
    "DUPLICATE": "The reward was sent twice",
    "FRAUD": "Suspected fraud",
    "VERIFY_ORDER": "The order is being verified",
    "NOT_RECEIVED": "The recipient did not receive the reward",
    "LOST_DELETED": "The recipient lost or deleted the reward",
    "DELIVERY_METHOD": "The reward goes by another delivery method",
    "REMINDER": "A reminder to the recipient",
    "OTHER": "Another reason, given in otherReason",
}


def _described(codes: type[CancelReason | FreezeReason | ReissueReason | ResendReason]):
    return {code.value: MEANING[code.value] for code in codes}


def reward_reasons() -> dict[str, dict[str, str]]:
    """``GET /lineItems/reasonCodes`` (``RewardReasonsMap``)."""
    return {
        "FREEZE": _described(FreezeReason),
        "UNFREEZE": _described(FreezeReason),
        "CANCEL": _described(CancelReason),
        "CANCEL_AND_REISSUE": _described(ReissueReason),
    }


def async_reasons() -> dict[str, dict[str, dict[str, str]]]:
    """``GET /asyncOrders/reasonCodes`` (``AsyncReasonCodesView``): every action's codes."""
    return {
        "reasonCodes": {
            "CANCEL": _described(CancelReason),
            "FREEZE": _described(FreezeReason),
            "UNFREEZE": _described(FreezeReason),
            "REISSUE": _described(ReissueReason),
            "RESEND": _described(ResendReason),
        }
    }
