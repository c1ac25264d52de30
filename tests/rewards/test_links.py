"""Report links: a browser opens a batch's files from the run's page; a link cannot be turned
into another file, forged, or used after it expired (the file server over real HTTP)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from deployments.report_server import create_app
from rewards.links import LinkError, sign, verify
from sandbox.server import ThreadedServer

KEY = b"k" * 32


@pytest.fixture
def served(tmp_path: Path):
    (tmp_path / "b123").mkdir()
    (tmp_path / "b123" / "report.csv").write_text("row_number,outcome\n2,complete\n")
    (tmp_path / "secret.txt").write_text("nope")
    with ThreadedServer(create_app(tmp_path, KEY)) as server:
        yield server.url


def test_a_signed_link_downloads_the_file(served: str) -> None:
    response = httpx.get(sign(served, KEY, "b123", "report.csv", hours=1))
    assert response.status_code == 200 and response.text.startswith("row_number,outcome")
    assert "attachment" in response.headers["content-disposition"]


@pytest.mark.parametrize(
    "change",
    [
        lambda url: url.replace("report.csv", "rejected_rows.csv"),  # another file, same sig
        lambda url: url.replace("b123", "b124"),  # another batch
        lambda url: url[:-3] + "AAA",  # a forged signature
        lambda url: url.replace("expires=", "expires=9"),  # a later expiry
        lambda url: url.replace("expires=", "expires=x"),  # not a time
        lambda url: url.replace("b123/report.csv", "..%2Fsecret.txt/report.csv"),
        lambda url: url.split("?")[0],  # no signature at all
    ],
)
def test_altered_links_are_refused(served: str, change) -> None:
    response = httpx.get(change(sign(served, KEY, "b123", "report.csv", hours=1)))
    assert response.status_code in (403, 404) and "nope" not in response.text
    assert "detail" not in response.text  # a sentence, not the framework's JSON


def test_links_expire_within_a_day() -> None:
    url = sign("http://x", KEY, "b1", "report.csv", hours=100, now=1_000_000)
    expires = int(url.split("expires=")[1].split("&")[0])
    assert expires == 1_000_000 + 24 * 3600  # capped at a day
    sig = url.split("sig=")[1]
    verify(KEY, "b1", "report.csv", expires, sig, now=1_000_000 + 3600)
    with pytest.raises(LinkError, match="expired"):
        verify(KEY, "b1", "report.csv", expires, sig, now=expires + 1)
    with pytest.raises(LinkError):
        sign("http://x", KEY, "b1", "../etc/passwd", hours=1)
