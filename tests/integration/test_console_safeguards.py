"""The safeguards in the console, in a real headless Chromium against a real exchange: a member acknowledges a
retraction for redress and the operator sees it go from pending to acknowledged; a member releases its
quarantined signal; an item page flags an inform warninglist; the operator's warninglists, quarantines and the
verified transparency report."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from client_sdk import Identifier, Signal
from client_sdk.admin import AdminClient
from client_sdk.wire import admin_pb2
from exchange.cli import main
from tests.console_harness import ConsoleProcess, Screenshots, chrome, wait_for
from tests.harness import Exchange

pytestmark = [pytest.mark.integration, pytest.mark.sqlite_only]
CAT = "sextortion.financial"
WRONGED = Identifier("email", "wrongly.named@example.com")
HELD = Identifier("email", "held.back@example.com")
FLAGGED = Identifier("email", "shared.inbox@example.com")


@dataclass
class World:
    exchange: Exchange
    a: ConsoleProcess
    b: ConsoleProcess
    op: ConsoleProcess
    browser: object
    shots: Screenshots
    ids: dict[str, int]

    def get(self, console: ConsoleProcess, path: str) -> None:
        self.browser.get(console.base + path)  # type: ignore[attr-defined]

    def find(self, css: str):
        return self.browser.find_element(By.CSS_SELECTOR, css)  # type: ignore[attr-defined]

    def finds(self, css: str) -> list:
        return self.browser.find_elements(By.CSS_SELECTOR, css)  # type: ignore[attr-defined]

    def text(self) -> str:
        return self.find("main").text


@pytest.fixture(scope="module")
def world(shared_exchange: Exchange, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    ex = shared_exchange
    root = tmp_path_factory.mktemp("console-safeguards")
    op = ["--as", str(ex.creds("operator")), "--server", ex.address]
    with AdminClient.connect(ex.address, ex.creds("operator")) as admin:
        admin.change(apply_policy=admin_pb2.ApplyPolicy(document="[defaults]\noprf_bulk_per_day = 1000\n"))
    assert main(["admin", "warninglist", "create", "shared-inboxes", "--mode", "inform", *op]) == 0
    assert main(["admin", "warninglist", "add", "shared-inboxes", "email:shared.inbox@example.com", *op]) == 0
    with ex.client("demo-a") as a:
        results = a.submit([Signal(i, category=CAT) for i in (WRONGED, HELD, FLAGGED)])
        ids = dict(zip(("wronged", "held", "flagged"), (r.signal_id for r in results), strict=True))
    accounts = root / "accounts.csv"
    accounts.write_text("account_id,type,value,provider\nb-7,email,shared.inbox@example.com,\n")
    index = root / "b.idx"
    b_creds = ["--as", str(ex.creds("demo-b")), "--server", ex.address]
    assert main(["index", "add", *b_creds, "--index", str(index), str(accounts)]) == 0
    assert main(["match", *b_creds, "--index", str(index)]) == 0
    # after the match (whose runs acknowledge redress of what matched nothing in the index)
    with ex.client("demo-a") as a, ex.client("demo-b") as b:
        b.lookup([WRONGED])  # demo-b also looks it up
        a.retract(ids["wronged"], reason="appeal upheld", reason_code="appeal_upheld")
    consoles = [
        ConsoleProcess(ex.creds("demo-a"), ex.address),
        ConsoleProcess(ex.creds("demo-b"), ex.address, "--index", str(index)),
        ConsoleProcess(ex.creds("operator"), ex.address, reviewer="op-1"),
    ]
    browser = chrome()
    try:
        for console in consoles:
            browser.get(console.login_url)
        yield World(ex, *consoles, browser, Screenshots(root / "screenshots"), ids)
    finally:
        browser.quit()
        for console in consoles:
            console.stop()


def test_a_member_acknowledges_redress_and_the_operator_sees_it(world: World) -> None:
    world.get(world.op, "/redress")
    rows = world.finds("#redress-pending tr[data-member]")
    assert len(rows) == 1, world.text()
    row = rows[0]
    assert "demo-b" in row.text and str(world.ids["wronged"]) in row.text and "under a day" in row.text
    assert len(world.finds("#redress-ages rect.bar")) == 1
    world.get(world.b, "/redress")
    row = world.find(f"#redress-pending tr[data-signal='{world.ids['wronged']}']")
    assert "pull" in row.text  # the match run pulled it first
    row.find_element(By.CSS_SELECTOR, "option[value=action_reversed]").click()
    row.find_element(By.TAG_NAME, "button").click()
    wait_for(lambda: "Acknowledged signal" in world.text(), what="the acknowledgement")
    assert "action_reversed" in world.find(f"#redress-done tr[data-signal='{world.ids['wronged']}']").text
    assert not world.finds("#redress-pending tr[data-signal]")
    world.get(world.op, "/redress")
    assert not world.finds("#redress-pending tr[data-member]") and "1 given" in world.text()
    assert len(world.finds("#redress-times rect.bar")) == 1
    world.shots.take(world.browser, "operator-redress")


def test_a_member_releases_its_quarantined_signal(world: World) -> None:
    held = world.ids["held"]
    with AdminClient.connect(world.exchange.address, world.exchange.creds("operator")) as admin:
        admin.change(set_quarantine=admin_pb2.SetQuarantine(signal_id=held, quarantined=True, reason="under review"))
    world.get(world.op, "/safeguards")
    assert "shared-inboxes" in world.find("#warninglists tr[data-list]").text
    assert "operator" in world.find(f"#quarantined tr[data-signal='{held}']").text  # quarantined by hand
    world.get(world.a, "/quarantined")
    row = world.find(f"#quarantined tr[data-signal='{held}']")
    row.find_element(By.NAME, "reason").send_keys("reviewed: sound")
    row.find_element(By.TAG_NAME, "button").click()
    wait_for(lambda: "Released signal" in world.text(), what="the release")
    assert not world.finds("#quarantined tr[data-signal]")
    with world.exchange.client("demo-a") as a:
        assert held not in {q.signal_id for q in a.quarantined()}


def test_an_item_page_flags_an_inform_warninglist(world: World) -> None:
    world.get(world.b, "/queue")
    [row] = world.finds("#queue tbody tr[data-item]")
    world.get(world.b, f"/items/{row.get_attribute('data-item')}")
    flags = [f.text for f in world.finds(".item-flag")]
    assert flags == ["on warninglist shared-inboxes: the operator flags this value; weigh it accordingly"]


def test_the_transparency_report_is_verified_and_shown(world: World, tmp_path: Path) -> None:
    world.get(world.op, "/report")
    anchor = wait_for(lambda: world.finds("#report-anchor"), what="the report")[0].text
    assert "verified here" in anchor and "signed with the log key" in anchor
    assert len(world.finds("#report tbody tr")) > 3 and "<" in world.find("#report").text
    world.get(world.op, "/report?period=2999-Q1")
    assert world.find("#error").text  # a period that has not begun is refused, on the page
