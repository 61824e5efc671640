"""The auditor's console in a real headless Chromium against a real exchange: audits run from the page with
their progress, the last verified checkpoint, the checkpoint history, and an edited entry named."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from selenium.webdriver.common.by import By

from client_sdk import Identifier, Signal
from client_sdk.wire import signals_pb2
from tests.console_harness import ConsoleProcess, Screenshots, chrome, wait_for
from tests.harness import Exchange, stored_envelope

pytestmark = [pytest.mark.integration, pytest.mark.sqlite_only]
_serial = itertools.count()


@dataclass
class World:
    exchange: Exchange
    console: ConsoleProcess
    browser: object
    shots: Screenshots

    def find(self, css: str):
        return self.browser.find_element(By.CSS_SELECTOR, css)  # type: ignore[attr-defined]

    def audit(self) -> str:
        """Run the audit from the page; the job's closing message."""
        self.browser.get(self.console.base + "/audit")  # type: ignore[attr-defined]
        self.find("#run-audit").click()
        wait_for(lambda: self.find("#job-state").get_attribute("data-state") != "running", what="the audit job")
        message = self.find("#job-message").text
        self.find("#job-next").click()
        return message

    def fill(self, n: int) -> list[int]:
        with self.exchange.client("demo-a") as a:
            signals = [Signal(Identifier("domain", f"audit{next(_serial)}.example"), category="grooming")
                       for _ in range(n)]  # fmt: skip
            seqs = [r.seq for r in a.submit(signals)]
        self.exchange.running.services.checkpointer.sign_now()
        return seqs


@pytest.fixture(scope="module")
def world(shared_exchange: Exchange, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("console-auditor")
    console = ConsoleProcess(shared_exchange.creds("auditor"), shared_exchange.address, "--audit-state",
                             str(root / "state"), reviewer="auditor-1")  # fmt: skip
    browser = chrome()
    try:
        browser.get(console.login_url)
        yield World(shared_exchange, console, browser, Screenshots(root / "screenshots"))
    finally:
        browser.quit()
        console.stop()


def test_audits_from_the_page_keep_a_consistent_checkpoint_history(world: World) -> None:
    nav = [a.text for a in world.browser.find_elements(By.CSS_SELECTOR, "header nav a")]  # type: ignore[attr-defined]
    assert nav == ["Audit", "Checkpoints", "Session"]
    world.fill(30)
    assert world.audit().startswith("OK")
    first = int(world.find("#verified-size").text)
    world.fill(20)
    assert world.audit().startswith("OK")
    assert world.find("#audit-verdict").text == "OK" and int(world.find("#verified-size").text) >= first + 20
    world.browser.get(world.console.base + "/checkpoints")  # type: ignore[attr-defined]
    rows = world.browser.find_elements(By.CSS_SELECTOR, "#checkpoint-history tbody tr")  # type: ignore[attr-defined]
    assert len(rows) == 2 and f"extends size {first}" in rows[0].text


def test_an_edited_entry_is_named(world: World) -> None:
    target = world.fill(10)[4]
    db = sqlite3.connect(world.exchange.db_path, timeout=30)
    envelope = signals_pb2.Envelope.FromString(stored_envelope(world.exchange.db_path, target))
    body = signals_pb2.SignalBody.FromString(envelope.payload)
    body.category = "sextortion.financial"
    envelope.payload = body.SerializeToString()
    db.execute("UPDATE events SET envelope = ? WHERE seq = ?", (envelope.SerializeToString(), target))
    db.commit()
    db.close()
    assert world.audit().startswith("FAILED")
    assert world.find("#audit-verdict").text == "FAILED"
    row = world.find(f"#problems tr[data-entry='{target - 1}']")  # log index = seq - 1
    assert f"entry {target - 1}" in row.text and "edited" in row.text
    world.shots.take(world.browser, "auditor-failure")
