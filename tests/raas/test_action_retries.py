"""Which line-item actions the client retries when Tango's answer is lost (the sandbox commits,
then answers 504), and that a retry never does anything twice: over real HTTP."""

from __future__ import annotations

from decimal import Decimal

import pytest

from raas import InvalidRequestError, RaasClient, ServerError
from sandbox import SandboxServer
from tests.sandbox.placing import one


def lose_next_answer(sandbox: SandboxServer) -> None:
    sandbox.admin.post("/faults", json={"drop_next": 1}).raise_for_status()


def test_a_cancel_whose_answer_was_lost_is_done_once(
    sandbox: SandboxServer, client: RaasClient
) -> None:
    line = one(client, amount="7")
    before = client.get_account().currentBalance
    lose_next_answer(sandbox)
    sent = client.requests_sent
    client.cancel_line_item(line, "DUPLICATE")  # 504, retried, "already cancelled": done
    assert client.requests_sent - sent == 2
    assert client.get_account().currentBalance == before + Decimal("7")
    assert [a.action for a in client.get_line_item(line).lineItemActionHistory] == ["CANCEL"]


def test_freeze_and_unfreeze_whose_answers_were_lost_are_done_once(
    sandbox: SandboxServer, client: RaasClient
) -> None:
    line = one(client)
    lose_next_answer(sandbox)
    client.freeze_line_item(line, "FRAUD")
    assert client.get_line_item(line).rewardStatus == "FROZEN"
    lose_next_answer(sandbox)
    client.unfreeze_line_item(line, "FRAUD")
    history = client.get_line_item(line).lineItemActionHistory
    assert [a.action for a in history] == ["FREEZE", "UNFREEZE"]


def test_a_second_cancel_asked_for_is_still_refused(client: RaasClient) -> None:
    line = one(client)
    client.cancel_line_item(line, "DUPLICATE")
    with pytest.raises(InvalidRequestError, match="ALREADY_CANCELLED"):
        client.cancel_line_item(line, "DUPLICATE")


def test_a_reissue_whose_answer_was_lost_is_charged_once(
    sandbox: SandboxServer, client: RaasClient
) -> None:
    line = one(client, amount="10")
    before = client.get_account().currentBalance
    lose_next_answer(sandbox)
    new = client.reissue_line_item(line, "REWARD_AMOUNT", amount=Decimal("12"))
    assert new.amountCharged.total == 12
    assert client.get_account().currentBalance == before + Decimal("10") - Decimal("12")


def test_a_resend_whose_answer_was_lost_is_not_sent_again(
    sandbox: SandboxServer, client: RaasClient
) -> None:
    line = one(client)
    lose_next_answer(sandbox)
    with pytest.raises(ServerError, match="HTTP 504"):
        client.resend_line_item(line, "REMINDER")
    assert len(client.get_line_item(line).resendHistory) == 1


def test_a_patch_whose_answer_was_lost_is_retried(
    sandbox: SandboxServer, client: RaasClient
) -> None:
    line = one(client)
    lose_next_answer(sandbox)
    sent = client.requests_sent
    client.update_line_item(line, order_notes="after a lost answer")
    assert client.requests_sent - sent == 2
    assert client.get_line_item(line).orderNotes == "after a lost answer"
