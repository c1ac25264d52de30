"""The client's typed models are Tango's schemas: a request model has every property of its
schema under the same wire name, with the same enum, length and pattern (the sandbox validates
bodies with these models, so this is how both follow the document); an answer model names
nothing the schema does not have."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

import raas
from tests.sandbox import document

REQUESTS = {
    "CreateAsyncOrderCriteria": "CreateAsyncOrderCriteria",
    "LineItem": "LineItem",
    "CancelLineItemCriteria": "CancelLineItemRequestCriteria",
    "FreezeLineItemCriteria": "FreezeLineItemRequestCriteria",
    "UnfreezeLineItemCriteria": "UnfreezeLineItemRequestCriteria",
    "ResendLineItemCriteria": "LineItemResendRequestCriteria",
    "ReissueLineItemCriteria": "ReissueLineItemRequestCriteria",
    "ReissueRecipient": "ReissueLineItemRecipientInfoCriteria",
    "UpdateAsyncLineItemCriteria": "UpdateAsyncLineItemCriteria",
    "UpdateLineItemCriteria": "UpdateLineItemRequest",
    "UpdateAsyncOrderCriteria": "UpdateAsyncOrderCriteria",
    "UpdateAccountCriteria": "UpdateAccountCriteria",
    "LowBalanceAlertCriteria": "LowBalanceAlertDTO",
    "UpdateLowBalanceAlertCriteria": "UpdateLowBalanceAlertRequest",
    "UpdateWebhookCriteria": "UpdateWebhookSubscriptionRequestView",
}
ANSWERS = {
    "ResendView": "ResendView",
    "ReissuedLineItem": "OrderViewSummary",
    "AsyncLineItemUpdate": "AsyncUpdateLineItemView",
    "LineItemSummary": "LineItemView",
    "LineItemDetail": "LineItemViewVerbose",
    "LineItemList": "LineItemListView",
    "KeysetPage": "KeysetPageView",
    "LineItemErrorView": "LineItemErrorDTO",
    "RewardReasons": "RewardReasonsMap",
    "AsyncReasonCodes": "AsyncReasonCodesView",
    "LowBalanceAlert": "LowBalanceAlertView",
    "LowBalanceAlertList": "LowBalanceAlertListView",
    "DeletedBalanceAlert": "DeleteBalanceAlertView",
    "PageInfo": "CollectionPageView",
    "ExchangeRate": "ExchangeRateView",
    "ExchangeRates": "ExchangeRatesWithDisclaimer",
    "EventTypes": "EventTypesResponseView",
    "CreatedAccount": "CreateAccountCriteria",
    "Account": "AccountView",
}


def _model(name: str) -> type[BaseModel]:
    return getattr(raas, name)


def _facet(prop: dict[str, Any], defs: dict[str, Any], key: str) -> Any:
    """``enum`` / ``maxLength`` / ``pattern`` of a pydantic property, through ``$ref`` and
    ``anyOf`` (optional fields)."""
    if "$ref" in prop:
        return _facet(defs[prop["$ref"].rsplit("/", 1)[1]], defs, key)
    if key in prop:
        return prop[key]
    for option in prop.get("anyOf", []):
        if (found := _facet(option, defs, key)) is not None:
            return found
    return None


@pytest.mark.parametrize(("model", "schema"), REQUESTS.items(), ids=REQUESTS)
def test_a_request_model_is_its_schema(model: str, schema: str) -> None:
    ours = _model(model).model_json_schema()
    props, defs = ours["properties"], ours.get("$defs", {})
    theirs = document.schema(schema)["properties"]
    assert set(theirs) <= set(props), f"{model} lacks {set(theirs) - set(props)}"
    for name, spec in theirs.items():
        for key in ("enum", "maxLength", "pattern"):
            if key in spec:
                found = _facet(props[name], defs, key)
                same = set(found or []) == set(spec[key]) if key == "enum" else found == spec[key]
                assert same, f"{model}.{name} {key}: ours {found}, Tango's {spec[key]}"


@pytest.mark.parametrize(("model", "schema"), ANSWERS.items(), ids=ANSWERS)
def test_an_answer_model_names_only_what_its_schema_has(model: str, schema: str) -> None:
    ours = set(_model(model).model_fields)
    theirs = set(document.schema(schema)["properties"])
    assert ours <= theirs, f"{model} invents {ours - theirs}"


def test_the_comparison_can_fail() -> None:
    class Loose(BaseModel):
        reasonCode: str

    props = Loose.model_json_schema()["properties"]
    assert _facet(props["reasonCode"], {}, "enum") is None  # so an enum mismatch is caught
