"""The html report in a real browser: Debian's chromium, headless (--no-sandbox as root),
driven through chromium-driver by selenium.

Checked: no console message at all, no http(s)/ws(s) request (the new-tab page's chrome://
requests are not the report's), the SVG count equals what the JSON implies, the headline
values are in the page text, and the hostile strings are text, not elements.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fragscope.reports import render
from tests.fixtures.reports import HOSTILE

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (Path(CHROMIUM).exists() and Path(DRIVER).exists()),
        reason="needs Debian's chromium and chromium-driver (deps/apt.txt)",
    ),
]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        opts.add_argument(arg)
    opts.binary_location = CHROMIUM
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "profile", ignore_errors=True)


def expected_charts(doc: dict[str, Any]) -> int:
    """The charts the JSON implies, counted independently of reports.view: a bar chart per
    vantage with a value (its latest run), a trend chart if a vantage has two runs with
    values, a heat map if two vantages have values, a discovery-channel chart if any T6
    carries channel counts, an encrypted-handshake chart if any T10 has a TCP or QUIC share
    or any T12 a value."""
    valued = [
        r
        for r in doc["runs"]
        if any(i["run_id"] == r["run_id"] and i["value"] is not None for i in doc["indicators"])
    ]
    vantages = [r["vantage"] for r in valued]
    return (
        len(set(vantages))
        + (len(vantages) > len(set(vantages)))
        + (len(set(vantages)) >= 2)
        + any(i["code"] == "T6" and "channels" in i["params"] for i in doc["indicators"])
        + any(
            (
                i["code"] == "T10"
                and (i["params"].get("tcp") is not None or i["params"].get("quic") is not None)
            )
            or (i["code"] == "T12" and i["value"] is not None)
            for i in doc["indicators"]
        )
    )


def _network_urls(driver: Any) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            url = msg["params"]["request"]["url"]
            if url.split(":", 1)[0] in ("http", "https", "ws", "wss"):
                urls.append(url)
    return urls


def test_html_report_in_chromium(
    browser: Any, vantages_doc: dict[str, Any], tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    page.write_text(render(vantages_doc, "html"), encoding="utf-8")
    browser.get(page.as_uri())
    assert browser.title.startswith("fragscope summary")
    assert browser.get_log("browser") == []
    assert _network_urls(browser) == []
    svgs = browser.find_elements("tag name", "svg")
    assert len(svgs) == expected_charts(vantages_doc) == 6
    body = browser.find_element("tag name", "body").text
    latest = {r["vantage"]: r["run_id"] for r in vantages_doc["runs"]}
    for row in vantages_doc["indicators"]:
        if row["code"] == "C2" and row["run_id"] in latest.values():
            assert f"{row['value']:.3f}" in body
            assert f"[{row['ci_low']:.3f}, {row['ci_high']:.3f}]" in body
    # Hostile strings are page text, never elements or scripts.
    for s in HOSTILE:
        assert s in body
    assert browser.find_elements("tag name", "script") == []
    assert browser.find_elements("tag name", "img") == []
