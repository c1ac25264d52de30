"""``make demo`` (until the flow lands): start the sandbox, place a small multi-line async
order through the client, wait for it and print the summary."""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from raas import CreateAsyncOrderCriteria, RaasClient, TangoSettings

from .config import DEFAULT_PLATFORM_KEY, DEFAULT_PLATFORM_NAME, SandboxConfig
from .server import SandboxServer


def main() -> int:
    in_ten_days = (datetime.now(UTC).date() + timedelta(days=10)).isoformat()
    workdir = Path(tempfile.mkdtemp(prefix="tango-demo-"))
    with SandboxServer(SandboxConfig(db_path=workdir / "sandbox.db")) as sandbox:
        settings = TangoSettings(
            base_url=sandbox.base_url,
            platform_name=DEFAULT_PLATFORM_NAME,
            platform_key=DEFAULT_PLATFORM_KEY,
            customer_identifier="sandbox-customer",
            account_identifier="sandbox-usd",
        )
        with RaasClient(settings) as client:
            before = client.get_account().currentBalance
            order = CreateAsyncOrderCriteria.model_validate(
                {
                    "externalRefID": f"demo-{int(time.time())}",
                    "customerIdentifier": "sandbox-customer",
                    "accountIdentifier": "sandbox-usd",
                    "campaign": "demo",
                    "lineItems": [
                        {
                            "externalRefLineItemID": "demo-1",
                            "utid": "U100001",
                            "amount": "25.00",
                            "deliveryMethod": "EMAIL",
                            "recipient": {"firstName": "Ada", "email": "ada@example.com"},
                        },
                        {
                            "externalRefLineItemID": "demo-2",
                            "utid": "U100007",
                            "amount": "15.00",
                            "deliveryMethod": "PHONE",
                            "recipient": {"firstName": "Alan", "mobileNumber": "+14155550100"},
                        },
                        {
                            "externalRefLineItemID": "demo-3",
                            "utid": "U100008",
                            "amount": "50.00",
                            "deliveryMethod": "EMAIL",
                            "deliveryDate": in_ten_days,
                            "recipient": {"firstName": "Grace", "email": "grace@example.com"},
                        },
                        {
                            "externalRefLineItemID": "demo-4",
                            "utid": "U100001",
                            "amount": "10.00",
                            "deliveryMethod": "EMAIL",
                            "recipient": {
                                "firstName": "Bounce",
                                "email": "bounce@fail.example.com",
                            },
                        },
                        {
                            "externalRefLineItemID": "demo-5",
                            "utid": "U100003",
                            "amount": "12.00",
                            "deliveryMethod": "EMAIL",
                            "recipient": {"firstName": "Wrong", "email": "wrong@example.com"},
                        },
                    ],
                }
            )
            submitted = client.create_async_order(order)
            print(f"Tango sandbox at {sandbox.base_url}")
            print(
                f"Placed async order {order.externalRefID}: HTTP {submitted.http_code}, "
                f"status {submitted.order.status}, {submitted.order.totalLineItems} line items, "
                f"{len(submitted.order.failedLineItems)} rejected at submission"
            )
            deadline = time.monotonic() + 30
            summary = client.get_async_order_summary(order.externalRefID)
            while summary.orderStatus == "PENDING" and time.monotonic() < deadline:
                time.sleep(0.2)
                summary = client.get_async_order_summary(order.externalRefID)
            print(f"\nOrder {summary.referenceOrderID}: {summary.orderStatus}")
            for li in summary.lineItems:
                why = "; ".join(e.errorMessage or "" for e in li.lineItemErrors)
                when = (
                    f" scheduled {li.scheduledDeliveryDate[:10]}"
                    if li.scheduledDeliveryDate
                    else ""
                )
                charged = li.amountCharged.total if li.amountCharged else 0
                print(
                    f"  {li.externalRefLineItemID:8} {li.deliveryMethod:6} {li.lineItemStatus:9} "
                    f"charged {charged:>8.2f}{when} {why}"
                )
            after = client.get_account().currentBalance
            total = summary.amountCharged.total if summary.amountCharged else 0
            print(f"\nCharged {total:.2f} USD; balance {before:.2f} -> {after:.2f}")
            return 0 if summary.orderStatus != "PENDING" else 1


if __name__ == "__main__":
    sys.exit(main())
