"""The operator's console in a real headless Chromium against a real exchange: members, a member's page,
charts with the right number of points, and a policy applied through the diff page that changes what a
member's console shows; bad policies and a stale base version change nothing. One browser holds both the
operator's and a member's session (each console has its own cookie)."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from selenium.webdriver.common.by import By

from client_sdk import Identifier, Signal
from client_sdk.admin import AdminClient
from client_sdk.credentials import Credentials
from client_sdk.wire import admin_pb2
from tests.console_harness import ConsoleProcess, Screenshots, chrome, wait_for
from tests.harness import Exchange

pytestmark = [pytest.mark.integration, pytest.mark.sqlite_only]
FIN, GROOMING = "sextortion.financial", "grooming"
DAY = 86_400
# per day: the categories of what demo-a submits that day
DAYS = [[GROOMING, GROOMING, FIN], [FIN, FIN, FIN], [GROOMING]]
PHONE = Identifier("phone", "+1 415 555 0199")


@dataclass
class World:
    exchange: Exchange
    operator: ConsoleProcess
    member: ConsoleProcess
    browser: object
    shots: Screenshots
    root: Path

    def get(self, console: ConsoleProcess, path: str) -> None:
        self.browser.get(console.base + path)  # type: ignore[attr-defined]

    def text(self) -> str:
        return self.browser.find_element(By.TAG_NAME, "main").text  # type: ignore[attr-defined]

    def find(self, css: str):
        return self.browser.find_element(By.CSS_SELECTOR, css)  # type: ignore[attr-defined]

    def version(self) -> int:
        with AdminClient.connect(self.exchange.address, self.exchange.creds("operator")) as op:
            return op.policy().version


@pytest.fixture(scope="module")
def world(shared_exchange: Exchange, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    ex = shared_exchange
    root = tmp_path_factory.mktemp("console-operator")
    ex.add_member("gov-1", kind="government")  # the default charter forbids a government everything
    with ex.client("demo-a") as a, ex.client("demo-b") as b:
        n = 0
        for day, categories in enumerate(DAYS):
            if day:
                ex.clock.advance(DAY)
            signals = []
            for category in categories:
                n += 1
                ident = PHONE if n == 1 else Identifier("email", f"person{n}@example.org")
                signals.append(Signal(ident, category=category))
            results = a.submit(signals)
            assert {r.status for r in results} == {"accepted"}
            if day == 0:
                b.feedback(results[0].signal_id, "confirmed")
                b.feedback(results[2].signal_id, "false_positive")
        b.lookup([PHONE])
    operator = ConsoleProcess(ex.creds("operator"), ex.address, reviewer="op-1")
    member = ConsoleProcess(ex.creds("demo-b"), ex.address)
    browser = chrome()
    try:
        browser.get(operator.login_url)
        browser.get(member.login_url)
        yield World(ex, operator, member, browser, Screenshots(root / "screenshots"), root)
    finally:
        browser.quit()
        operator.stop()
        member.stop()


def _quota(world: World, member: str, quota: str) -> str:
    return world.find(f"#members tr[data-member={member}] td[data-quota={quota}]").text  # type: ignore[no-any-return]


def test_members_with_kind_status_quota_use_beside_limits_and_last_activity(world: World) -> None:
    world.get(world.operator, "/members")
    nav = [a.text for a in world.browser.find_elements(By.CSS_SELECTOR, "header nav a")]  # type: ignore[attr-defined]
    assert nav == [
        "Members", "Policy", "Groups", "Retention", "Charts", "Redress", "Safeguards", "Charter", "Report", "Session"
    ]  # fmt: skip
    row = world.find("#members tr[data-member=demo-a]").text
    assert "active" in row and " 7 " in f" {row} " and "UTC" in row  # 7 signals, a last activity
    kinds = {m: world.find(f"#members tr[data-member={m}] td.kind").text for m in ("demo-a", "gov-1", "operator")}
    assert kinds == {"demo-a": "platform", "gov-1": "government", "operator": "-"}
    assert _quota(world, "demo-b", "lookups_per_day") == "1 / 100,000"  # one look-up today of the default limit
    assert _quota(world, "demo-b", "evaluations_per_day") == "1 / 10,000"  # the look-up pseudonymised one value
    assert _quota(world, "demo-b", "oprf_bulk_per_day") == "0 / 0"  # granted by the operator only
    assert _quota(world, "gov-1", "lookups_per_day") == "0 / 0"  # the charter forbids its kind look-ups
    assert _quota(world, "auditor", "lookups_per_day") == "-"  # no quota applies to an auditor
    world.shots.take(world.browser, "operator-members")
    world.find("#members a[href='/members/demo-b']").click()
    wait_for(lambda: world.browser.find_elements(By.ID, "keys-table"), what="the member page")  # type: ignore[attr-defined]
    assert "demo-b" in world.find("h1").text and world.find("#keys-table tbody tr")
    assert "read_categories" in world.find("#effective-policy").text
    assert world.find("#member-kind").text == "platform"
    cert = x509.load_pem_x509_certificate(Credentials.load(world.exchange.creds("demo-b")).cert_pem)
    [row_el] = world.browser.find_elements(By.CSS_SELECTOR, "#certificates tbody tr")  # type: ignore[attr-defined]
    assert row_el.get_attribute("data-serial") == format(cert.serial_number, "x")
    assert row_el.get_attribute("data-state") == "valid" and "valid" in row_el.text
    assert row_el.find_element(By.CSS_SELECTOR, ".expires").text == f"{cert.not_valid_after_utc:%Y-%m-%d}"
    left = (cert.not_valid_after_utc - datetime.now(UTC)).days
    assert int(row_el.find_element(By.CSS_SELECTOR, ".days-left").text) in (left, left - 1)
    assert not world.browser.find_elements(By.ID, "certificates-unknown")  # type: ignore[attr-defined]
    world.shots.take(world.browser, "operator-member")


def test_certificates_from_before_they_were_recorded_are_said_to_be_unknown(world: World) -> None:
    upgraded = int(datetime(2026, 11, 30, 12, tzinfo=UTC).timestamp())  # what the v8 migration sets
    with sqlite3.connect(world.exchange.db_path) as db:
        db.execute("UPDATE members SET certs_known_from = ? WHERE member_id = 'demo-a'", (upgraded,))
    world.get(world.operator, "/members/demo-a")
    note = wait_for(lambda: world.browser.find_elements(By.ID, "certificates-unknown"), what="the note")[0]  # type: ignore[attr-defined]
    assert "2026-11-30 12:00 UTC" in note.text and "not known" in note.text


def test_a_chart_renders_the_right_number_of_points(world: World) -> None:
    world.get(world.operator, "/charts")
    points = world.browser.find_elements(By.CSS_SELECTOR, "#submits-chart circle.point")  # type: ignore[attr-defined]
    assert len(points) == 4  # (day 0, grooming), (day 0, financial), (day 1, financial), (day 2, grooming)
    values = sorted(int(p.get_attribute("data-value")) for p in points)
    assert values == [1, 1, 2, 3]
    assert len(world.browser.find_elements(By.CSS_SELECTOR, "#submits-chart polyline.series")) == 2  # type: ignore[attr-defined]
    bars = world.browser.find_elements(By.CSS_SELECTOR, "#feedback-chart rect.bar")  # type: ignore[attr-defined]
    assert sorted((b.get_attribute("data-group"), b.get_attribute("data-outcome")) for b in bars) == [
        (GROOMING, "confirmed"), (FIN, "false_positive")
    ]  # fmt: skip
    world.shots.take(world.browser, "operator-charts")


def _member_sees_phone(world: World) -> int:
    world.get(world.member, "/lookup")
    world.find("#lookup-type option[value=phone]").click()
    world.find("#lookup-value").send_keys("+14155550199")
    world.find("#lookup").click()
    table = wait_for(lambda: world.browser.find_elements(By.ID, "lookup-results"), what="results")[0]  # type: ignore[attr-defined]
    return len(table.find_elements(By.CSS_SELECTOR, "tbody tr")) - len(table.find_elements(By.CSS_SELECTOR, "td.empty"))


def _upload(world: World, name: str, text: str | bytes) -> None:
    path = world.root / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    world.get(world.operator, "/policy")
    world.find("#policy-file").send_keys(str(path))
    world.find("#preview").click()


def test_an_operator_applies_a_policy_through_the_diff_page_and_the_members_view_changes(world: World) -> None:
    assert _member_sees_phone(world) == 1
    before = world.version()
    _upload(world, "narrow.toml", '[members.demo-b]\nread_categories = ["sextortion.*"]\n')
    summary = wait_for(lambda: world.browser.find_elements(By.ID, "policy-summary"), what="the diff page")[0]  # type: ignore[attr-defined]
    assert "demo-b" in summary.text and "read_categories" in summary.text
    assert '+read_categories = ["sextortion.*"]' in summary.text
    world.shots.take(world.browser, "operator-policy-diff")
    world.find("#apply").click()  # without the confirmation: the browser's own check keeps the form
    assert world.browser.find_elements(By.ID, "apply") and world.version() == before  # type: ignore[attr-defined]
    world.find("#confirm").click()
    world.find("#apply").click()
    wait_for(lambda: "Applied" in world.text(), what="the applied message")
    assert world.version() == before + 1
    assert _member_sees_phone(world) == 0  # grooming is no longer visible to demo-b


def test_a_policy_that_does_not_parse_or_is_not_text_changes_nothing(world: World) -> None:
    before = world.version()
    for name, text in [("broken.toml", "[members.demo-b\nread_categories = 1\n"),
                       ("unknown.toml", '[members.demo-b]\nread_categoriez = ["*"]\n'),
                       ("binary.toml", b"\xff\xfe\x00\x01")]:  # fmt: skip
        _upload(world, name, text)
        error = wait_for(lambda: world.browser.find_elements(By.ID, "error"), what=f"the error for {name}")[0]  # type: ignore[attr-defined]
        assert error.text.startswith("Not applied") or "not UTF-8" in error.text, error.text
        assert world.version() == before


def test_a_stale_base_version_is_refused_and_changes_nothing(world: World) -> None:
    _upload(world, "wide.toml", '[members.demo-b]\nread_categories = ["*"]\n')
    wait_for(lambda: world.browser.find_elements(By.ID, "apply"), what="the diff page")  # type: ignore[attr-defined]
    with AdminClient.connect(world.exchange.address, world.exchange.creds("operator")) as op:  # a colleague
        op.change(apply_policy=admin_pb2.ApplyPolicy(document="[members.demo-a]\nlookups_per_day = 1000\n"))
        theirs = op.policy()
    world.find("#confirm").click()
    world.find("#apply").click()
    error = wait_for(lambda: world.browser.find_elements(By.ID, "error"), what="the stale-version error")[0]  # type: ignore[attr-defined]
    assert "the policy changed" in error.text and f"now version {theirs.version}" in error.text
    with AdminClient.connect(world.exchange.address, world.exchange.creds("operator")) as op:
        assert op.policy() == theirs
    assert world.find("#policy-version").get_attribute("data-version") == str(theirs.version)


def test_groups_and_retention(world: World) -> None:
    world.get(world.operator, "/groups")
    world.find("input[name=group]").send_keys("trusted-flaggers")
    world.find("button[value=create]").click()
    wait_for(lambda: "trusted-flaggers" in world.find("#groups").text, what="the new group")
    world.find("input[name=group]").send_keys("trusted-flaggers")
    world.find("select[name=member] option[value=demo-a]").click()
    world.find("button[value=add]").click()
    wait_for(lambda: "demo-a" in world.find("#groups").text, what="the new member of the group")
    with AdminClient.connect(world.exchange.address, world.exchange.creds("operator")) as op:
        assert {g.name: list(g.members) for g in op.groups()}["trusted-flaggers"] == ["demo-a"]
    world.find("input[name=group]").send_keys("no such group")
    world.find("select[name=member] option[value=demo-a]").click()
    world.find("button[value=add]").click()
    error = wait_for(lambda: world.browser.find_elements(By.ID, "error"), what="the error")[0]  # type: ignore[attr-defined]
    assert "no group" in error.text and "no such group" in error.text
    world.get(world.operator, "/retention")
    assert GROOMING in world.find("#retention").text
    world.find("#run-retention").click()
    wait_for(lambda: "Retention ran: 0 expired signal(s) purged" in world.text(), what="the retention message")


CHARTER = """\
kinds: [platform, payment_provider, ngo, hotline, government, research]
forbid:
  government: ["*"]
  research: [submit]
categories:
  "csam.*": [platform, hotline, ngo]
min_submitters:
  - categories: [grooming]
    kinds: [research]
    submitters: 2
"""


def test_the_charter_in_force_with_its_rules(world: World) -> None:
    world.get(world.operator, "/members")
    world.find("header nav a[href='/charter']").click()
    wait_for(lambda: world.browser.find_elements(By.ID, "charter-forbid"), what="the charter page")  # type: ignore[attr-defined]
    assert world.find("#charter-version").get_attribute("data-version") == "0"
    assert "default charter is in force" in world.find("#charter-applied").text
    assert world.find("#charter-forbid tr[data-kind=government]").text == "government everything"
    with AdminClient.connect(world.exchange.address, world.exchange.creds("operator")) as op:
        applied = op.apply_charter(CHARTER, base_version=0)
    world.get(world.operator, "/charter")
    assert world.find("#charter-version").text == "version 1"
    assert world.find("#charter-sha256").text == hashlib.sha256(CHARTER.encode()).hexdigest()
    assert "UTC" in world.find("#charter-applied").text
    assert f"log index {applied.seq - 1}" in world.find("#charter-applied").text
    assert world.find("#charter-kinds").text == "platform, payment_provider, ngo, hotline, government, research"
    forbid = [r.text for r in world.browser.find_elements(By.CSS_SELECTOR, "#charter-forbid tbody tr")]  # type: ignore[attr-defined]
    assert forbid == ["government everything", "research submit"]
    assert world.find("#charter-categories tr[data-category='csam.*']").text == "csam.* platform, hotline, ngo"
    assert world.find("#charter-min-submitters tbody tr").text == "research grooming 2"
    world.shots.take(world.browser, "operator-charter")
