"""Small helpers shared by tests: a real HTTP webhook receiver, polling, order builders."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from raas import CreateAsyncOrderCriteria, RaasClient

T = TypeVar("T")
CUSTOMER = "sandbox-customer"
ACCOUNT = "sandbox-usd"


def wait_for(
    check: Callable[[], T],
    timeout: float = 10.0,
    interval: float = 0.05,
    explain: Callable[[], str] | None = None,
) -> T:
    """``check()`` once it is truthy; on timeout, an error saying what ``explain()`` saw."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            seen = f": {explain()}" if explain else ""
            raise AssertionError(f"condition not met within {timeout}s{seen}")
        time.sleep(interval)


def runs_of(deployment: str, source_path: str | None = None) -> list[Any]:
    """The flow runs of one deployment (``flow/deployment``), oldest first, optionally only
    those for one file. Filtered on the server: the test server is shared by the session and
    an unfiltered read stops at the API's default page of 200, in no useful order."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            dep = client.read_deployment_by_name(deployment)
        except ObjectNotFound:
            return []
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep.id])),
            sort=FlowRunSort.EXPECTED_START_TIME_ASC,
            limit=200,
        )
    return [
        r for r in runs if source_path is None or r.parameters.get("source_path") == source_path
    ]


def artifacts_of(flow_run_id: Any) -> list[Any]:
    """The artifacts of one flow run: the test server is shared by the whole session, and an
    unfiltered read stops at the API's default page of 200."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )


def line(ref: str, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "externalRefLineItemID": ref,
        "recipient": {"firstName": "Ada", "lastName": "Lovelace", "email": f"{ref}@example.com"},
        "utid": "U100001",
        "amount": "10.00",
        "deliveryMethod": "EMAIL",
    }
    base.update(kw)
    return base


def order(
    ref: str, lines: list[dict[str, Any]], account: str = ACCOUNT, **kw: Any
) -> CreateAsyncOrderCriteria:
    return CreateAsyncOrderCriteria.model_validate(
        {
            "externalRefID": ref,
            "customerIdentifier": CUSTOMER,
            "accountIdentifier": account,
            "lineItems": lines,
            **kw,
        }
    )


def wait_final(client: RaasClient, ref: str, account: str = ACCOUNT, timeout: float = 10.0):
    return wait_for(
        lambda: (
            (s := client.get_async_order_summary(ref, account=account)).orderStatus != "PENDING"
            and s
        ),
        timeout,
    )


class Receiver:
    """A real HTTP endpoint that records what is POSTed to it and answers ``statuses`` in turn
    (then 200)."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses = list(statuses or [])
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tango"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
