"""The member analyst's console in a real headless Chromium, against ``sigx console`` on a real exchange:
login, the review queue by keyboard and in bulk, the item page, decisions racing another analyst, withdrawn
items, look-up, CSV upload and the index page. One browser and one exchange for the module."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from selenium.webdriver.common.by import By

from client_sdk import Identifier, Signal
from client_sdk.admin import AdminClient
from client_sdk.wire import admin_pb2
from exchange.cli import main
from tests.console_harness import ConsoleProcess, Screenshots, chrome, session_for, wait_for
from tests.harness import Exchange

pytestmark = [pytest.mark.integration, pytest.mark.sqlite_only]
FIN = "sextortion.financial"
# What A submits, and the account of B's that each one matches (the raw values the pages must never show).
SIGNALS = [
    (Identifier("email", "Jane.Doe@gmail.com"), FIN, ("b-101", "email", "janedoe+promo@googlemail.com", "")),
    (Identifier("phone", "+1 415 555 0100"), "grooming", ("b-102", "phone", "(415) 555-0100", "US")),
    (Identifier("payment_handle", "$Offender99", provider="cashapp"), FIN,
     ("b-103", "payment_handle", "$offender99", "cashapp")),
    (Identifier("email", "Mark.Smith@example.com"), FIN, ("b-104", "email", "MARK.SMITH@EXAMPLE.COM", "")),
    (Identifier("email", "to.withdraw@example.com"), FIN, ("b-105", "email", "to.withdraw@example.com", "")),
    (Identifier("username", "@offender_two", platform="instagram"), "grooming",
     ("b-106", "username", "offender_two", "instagram")),
]  # fmt: skip
RAW = ["jane.doe", "janedoe", "415", "555", "offender", "mark.smith", "to.withdraw", "example.com", "gmail"]


@dataclass
class World:
    exchange: Exchange
    index: Path
    console: ConsoleProcess
    browser: object
    shots: Screenshots
    signal_ids: list[int]
    landed: str  # where the one-time login link led the browser (the fixture follows it, so any test runs alone)

    def get(self, path: str) -> None:
        self.browser.get(self.console.base + path)  # type: ignore[attr-defined]

    def text(self) -> str:
        return self.browser.find_element(By.TAG_NAME, "main").text  # type: ignore[attr-defined]

    def items(self) -> dict[int, tuple[str, int]]:
        """item id -> (status, decisions) straight from the index file."""
        with sqlite3.connect(self.index) as db:
            rows = db.execute("SELECT i.id, i.status, (SELECT count(*) FROM decisions d WHERE d.item = i.id)"
                              " FROM items i").fetchall()  # fmt: skip
        return {r[0]: (r[1], r[2]) for r in rows}


def _cli(*argv: str) -> int:
    return main(list(argv))


@pytest.fixture(scope="module")
def world(shared_exchange: Exchange, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    ex = shared_exchange
    root = tmp_path_factory.mktemp("console-member")
    with AdminClient.connect(ex.address, ex.creds("operator")) as op:
        op.change(apply_policy=admin_pb2.ApplyPolicy(document="[defaults]\noprf_bulk_per_day = 100000\n"))
    with ex.client("demo-a") as a:
        results = a.submit([Signal(ident, category=cat) for ident, cat, _ in SIGNALS])
    accounts = root / "accounts.csv"
    accounts.write_text("account_id,type,value,provider\n" + "".join(",".join(own) + "\n" for *_, own in SIGNALS))
    index = root / "b.index"
    creds = ["--as", str(ex.creds("demo-b")), "--server", ex.address]
    assert _cli("index", "add", *creds, "--index", str(index), str(accounts)) == 0
    assert _cli("match", *creds, "--index", str(index)) == 0
    console = ConsoleProcess(ex.creds("demo-b"), ex.address, "--index", str(index))
    browser = chrome()
    try:
        browser.get(console.login_url)  # type: ignore[attr-defined]
        landed = browser.current_url  # type: ignore[attr-defined]
        shots = Screenshots(root / "screenshots")
        yield World(ex, index, console, browser, shots, [r.signal_id for r in results], landed)
    finally:
        browser.quit()
        console.stop()


def test_the_login_link_works_once_and_the_cookie_is_strict(world: World) -> None:
    b = world.browser
    assert world.landed.endswith("/queue")
    world.get("/queue")
    assert "open (6)" in world.text()
    [cookie] = b.get_cookies()  # type: ignore[attr-defined]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["name"].startswith("sigx_console_")
    assert len(b.find_elements(By.CSS_SELECTOR, "#queue tbody tr[data-item]")) == 6  # type: ignore[attr-defined]
    nav = [a.text for a in b.find_elements(By.CSS_SELECTOR, "header nav a")]  # type: ignore[attr-defined]
    assert nav == ["Review queue", "Look up", "Submit", "Index", "Redress", "Quarantined", "Session"]  # no operator's
    world.shots.take(b, "member-queue")
    world.get("/queue?category=grooming")
    rows = b.find_elements(By.CSS_SELECTOR, "#queue tbody tr[data-item]")  # type: ignore[attr-defined]
    assert len(rows) == 2 and all("grooming" in r.text for r in rows)
    world.get("/queue?type=email&submitter=demo-a")
    assert len(b.find_elements(By.CSS_SELECTOR, "#queue tbody tr[data-item]")) == 3  # type: ignore[attr-defined]
    world.get("/queue?min_corroboration=2")
    assert "match these filters" in world.text()
    world.get("/queue?min_corroboration=lots")
    assert "whole number" in b.find_element(By.ID, "error").text  # type: ignore[attr-defined]
    again = requests.get(world.console.login_url, allow_redirects=False, timeout=10)
    assert again.status_code == 403 and "not valid" in again.text and not again.cookies
    for path in ("/members", "/policy", "/charts", "/audit", "/safeguards", "/report"):
        assert session_for(b, world.console).get(world.console.base + path, timeout=10).status_code == 404


def test_no_session_cookie_or_a_wrong_csrf_token_is_refused(world: World) -> None:
    before = world.items()
    item = min(before)
    anonymous = requests.get(world.console.base + "/queue", timeout=10)
    assert anonymous.status_code == 401 and "Not signed in" in anonymous.text and "data-item" not in anonymous.text
    form = {"item": str(item), "verdict": "confirmed"}
    assert requests.post(world.console.base + "/queue/decide", data=form, timeout=10).status_code == 403
    signed_in = session_for(world.browser, world.console)
    for csrf in ("", "wrong-token"):
        refused = signed_in.post(world.console.base + "/queue/decide", data={**form, "csrf": csrf}, timeout=10)
        assert refused.status_code == 403 and "CSRF" in refused.text
    assert world.items() == before


def test_a_withdrawn_item_cannot_be_actioned(world: World) -> None:
    b = world.browser
    with world.exchange.client("demo-a") as a:
        a.retract(world.signal_ids[4], reason="appeal upheld")
    world.get("/index")
    b.find_element(By.ID, "match").click()  # type: ignore[attr-defined]
    wait_for(lambda: b.find_element(By.ID, "job-state").get_attribute("data-state") == "done", what="the match job")  # type: ignore[attr-defined]
    assert "1 withdrawn" in b.find_element(By.ID, "job-message").text  # type: ignore[attr-defined]
    [withdrawn] = [i for i, (status, _) in world.items().items() if status == "withdrawn"]
    world.get("/queue?status=withdrawn")
    row = b.find_element(By.CSS_SELECTOR, f"#queue tr[data-item='{withdrawn}']")  # type: ignore[attr-defined]
    assert not row.find_elements(By.CSS_SELECTOR, "input[type=checkbox]") and "appeal upheld" in row.text
    b.find_element(By.TAG_NAME, "body").send_keys("c")  # type: ignore[attr-defined]
    wait_for(lambda: "withdrawn: nobody acts on it" in world.text(), what="the refusal")
    world.get(f"/items/{withdrawn}")
    assert not b.find_elements(By.ID, "decide-form") and b.find_element(By.ID, "no-decision")  # type: ignore[attr-defined]
    csrf = b.find_element(By.CSS_SELECTOR, "input[name=csrf]").get_attribute("value")  # type: ignore[attr-defined]
    forged = session_for(b, world.console).post(
        world.console.base + "/queue/decide", data={"csrf": csrf, "item": str(withdrawn), "verdict": "confirmed"},
        timeout=10, allow_redirects=True,
    )  # fmt: skip
    assert "was withdrawn" in forged.text and "Nothing was decided" in forged.text
    assert world.items()[withdrawn] == ("withdrawn", 0)


def test_keyboard_decisions_reach_the_submitter_as_signed_feedback(world: World) -> None:
    b = world.browser
    world.get("/queue")
    help_box = b.find_element(By.ID, "keys")  # type: ignore[attr-defined]
    assert not help_box.is_displayed()
    body = b.find_element(By.TAG_NAME, "body")  # type: ignore[attr-defined]
    body.send_keys("?")
    assert help_box.is_displayed() and "false_positive" in help_box.text
    world.shots.take(b, "member-queue-keys")
    body.send_keys("?")
    body.send_keys("j")
    row = b.find_element(By.CSS_SELECTOR, "#queue tr.current")  # type: ignore[attr-defined]
    second = int(row.get_attribute("data-item"))
    body.send_keys("k")
    first = int(b.find_element(By.CSS_SELECTOR, "#queue tr.current").get_attribute("data-item"))  # type: ignore[attr-defined]
    assert first != second
    body.send_keys("c")  # confirmed, on the first row
    wait_for(lambda: "decided confirmed" in world.text(), what="the decision's message")
    assert "1 sent as signed feedback" in world.text()
    body = b.find_element(By.TAG_NAME, "body")  # type: ignore[attr-defined]
    body.send_keys("f")  # false positive, on what is now the first open row: the former second
    wait_for(lambda: "decided false_positive" in world.text(), what="the second decision")
    states = world.items()
    assert states[first] == ("decided", 1) and states[second] == ("decided", 1)
    signal_of = _signal_of(world)
    with world.exchange.client("demo-a") as a:
        feedback = {(e.signal_id, e.verdict) for e in a.pull() if e.kind == "feedback" and e.submitter == "demo-b"}
    assert {(signal_of[first], "confirmed"), (signal_of[second], "false_positive")} <= feedback


def _signal_of(world: World) -> dict[int, int]:
    with sqlite3.connect(world.index) as db:
        return dict(db.execute("SELECT id, signal_id FROM items").fetchall())


def test_a_bulk_decision_and_an_item_page_without_anyone_elses_raw_identifier(world: World) -> None:
    b = world.browser
    world.get("/queue")
    rows = b.find_elements(By.CSS_SELECTOR, "#queue tbody tr[data-item]")  # type: ignore[attr-defined]
    assert len(rows) == 3
    chosen = [int(r.get_attribute("data-item")) for r in rows[:2]]
    for r in rows[:2]:
        r.find_element(By.CSS_SELECTOR, "input[type=checkbox]").click()
    b.find_element(By.CSS_SELECTOR, "#bulk-verdict option[value=actioned]").click()  # type: ignore[attr-defined]
    b.find_element(By.ID, "bulk-decide").click()  # type: ignore[attr-defined]
    wait_for(lambda: "2 item(s) decided actioned" in world.text(), what="the bulk decision")
    assert all(world.items()[i] == ("decided", 1) for i in chosen)
    world.get(f"/items/{chosen[0]}")
    page = b.page_source  # type: ignore[attr-defined]
    assert "verified in the signature log at checkpoint size" in b.find_element(By.ID, "inclusion").text  # type: ignore[attr-defined]
    record = b.find_element(By.ID, "track-record").text  # type: ignore[attr-defined]
    assert "actioned 2" in record and "confirmed 1" in record and "false_positive 1" in record, record
    own = b.find_element(By.ID, "own-id").text  # type: ignore[attr-defined]
    assert own.startswith("b-10")
    lowered = page.lower()
    assert not [raw for raw in RAW if raw in lowered], "an item page shows a raw identifier"
    world.shots.take(b, "member-item")


def test_a_decision_on_an_item_another_analyst_decided_a_second_earlier_changes_nothing(world: World) -> None:
    b = world.browser
    open_items = [i for i, (status, _) in world.items().items() if status == "open"]
    item = open_items[0]
    world.get(f"/items/{item}")
    b.find_element(By.CSS_SELECTOR, "input[name=verdict][value=not_found]").click()  # type: ignore[attr-defined]
    # meanwhile, another analyst decides it from the shell
    other = ["review", "decide", "--index", str(world.index), str(item), "duplicate", "--reviewer", "analyst-2"]
    assert _cli(*other) == 0
    b.find_element(By.ID, "decide").click()  # type: ignore[attr-defined]
    wait_for(lambda: "changed since" in world.text(), what="the stale-item message")
    assert "Nothing was decided" in world.text()
    with sqlite3.connect(world.index) as db:
        decisions = db.execute("SELECT verdict, reviewer FROM decisions WHERE item = ?", (item,)).fetchall()
    assert decisions == [("duplicate", "analyst-2")]


def test_look_up_pseudonymises_in_the_console_and_logs_nothing(world: World) -> None:
    b = world.browser
    world.get("/lookup")
    b.find_element(By.CSS_SELECTOR, "#lookup-type option[value=email]").click()  # type: ignore[attr-defined]
    b.find_element(By.ID, "lookup-value").send_keys("MARK.SMITH@example.com")  # type: ignore[attr-defined]
    b.find_element(By.ID, "lookup").click()  # type: ignore[attr-defined]
    table = wait_for(lambda: b.find_elements(By.ID, "lookup-results"), what="results")[0]  # type: ignore[attr-defined]
    assert "demo-a" in table.text and FIN in table.text
    b.find_element(By.ID, "lookup-value").clear()  # type: ignore[attr-defined]
    b.find_element(By.ID, "lookup-value").send_keys("not an address")  # type: ignore[attr-defined]
    b.find_element(By.ID, "lookup").click()  # type: ignore[attr-defined]
    assert "email" in wait_for(lambda: b.find_elements(By.ID, "error"), what="the error")[0].text  # type: ignore[attr-defined]
    assert "mark.smith" not in world.console.output.lower() and "token=" in world.console.output


def _active(world: World) -> int:
    with AdminClient.connect(world.exchange.address, world.exchange.creds("operator")) as op:
        return op.stats().active_signals


def test_csv_upload_submits_with_progress_and_a_bad_file_sends_nothing(world: World, tmp_path: Path) -> None:
    b = world.browser
    before = _active(world)
    bad_files = {
        "image.png": b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)),
        "wrong.csv": b"type,value,category\nemail,ok@example.org,grooming\nthis line has one column\n",
        "latin1.csv": "email,caf\xe9@example.org,grooming\n".encode("latin-1"),
    }
    for name, data in bad_files.items():
        path = tmp_path / name
        path.write_bytes(data)
        world.get("/submit")
        b.find_element(By.ID, "upload-file").send_keys(str(path))  # type: ignore[attr-defined]
        b.find_element(By.ID, "upload").click()  # type: ignore[attr-defined]
        error = wait_for(lambda: b.find_elements(By.ID, "error"), what=f"the error for {name}")[0]  # type: ignore[attr-defined]
        assert "nothing was sent" in error.text and name in error.text
    assert _active(world) == before
    good = tmp_path / "signals.csv"
    rows = "".join(f"email,batch{i}@example.org,{FIN},\n" for i in range(40))
    good.write_text("type,value,category,provider\n" + rows + "payment_handle,$batchhandle,grooming,cashapp\n")
    world.get("/submit")
    b.find_element(By.ID, "upload-file").send_keys(str(good))  # type: ignore[attr-defined]
    b.find_element(By.ID, "upload").click()  # type: ignore[attr-defined]
    wait_for(lambda: b.find_element(By.ID, "job-state").get_attribute("data-state") == "done", what="the upload job")  # type: ignore[attr-defined]
    assert b.find_element(By.ID, "job-progress").get_attribute("value") == "100"  # type: ignore[attr-defined]
    assert "41 stored, 0 rejected, of 41 signals" in b.find_element(By.ID, "job-message").text  # type: ignore[attr-defined]
    assert _active(world) == before + 41
    world.get("/index")
    assert b.find_element(By.ID, "accounts").text.startswith("6 ")  # type: ignore[attr-defined]
    assert "behind the exchange" in b.find_element(By.ID, "lag").text  # type: ignore[attr-defined]


def test_an_analyst_invites_a_colleague_with_a_one_time_link(world: World) -> None:
    b = world.browser
    world.get("/session")
    b.find_element(By.NAME, "reviewer").send_keys("analyst-3")  # type: ignore[attr-defined]
    b.find_element(By.CSS_SELECTOR, "form[action='/session/invite'] button").click()  # type: ignore[attr-defined]
    link = wait_for(lambda: b.find_elements(By.ID, "invite-link"), what="the link")[0].text  # type: ignore[attr-defined]
    colleague = requests.Session()
    assert colleague.get(link, timeout=10).status_code == 200 and "analyst-3" in colleague.get(
        world.console.base + "/queue", timeout=10).text  # fmt: skip
    assert requests.get(link, timeout=10).status_code == 403  # once only


def _self_signed(directory: Path) -> tuple[Path, Path]:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = directory / "console.crt", directory / "console.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_path, key_path


def test_over_tls_the_session_cookie_is_secure_too(world: World, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    console = ConsoleProcess(world.exchange.creds("demo-b"), world.exchange.address, "--index", str(world.index),
                             "--tls-cert", str(cert), "--tls-key", str(key))  # fmt: skip
    try:
        assert console.login_url.startswith("https://127.0.0.1:")
        login = requests.get(console.login_url, verify=str(cert), allow_redirects=False, timeout=10,
                             headers={"Connection": "close"})  # fmt: skip
        cookie = login.headers["set-cookie"].lower()
        assert login.status_code == 303 and "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    finally:
        console.stop()


def test_a_console_off_loopback_needs_tls(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    creds = ["--as", str(world.exchange.creds("demo-b")), "--server", world.exchange.address]
    assert main(["console", *creds, "--listen", "0.0.0.0:0"]) == 2  # refused before anything is served
    assert "needs --tls-cert and --tls-key" in capsys.readouterr().err
    assert main(["console", *creds, "--listen", "nonsense"]) == 2
    assert "expected HOST:PORT" in capsys.readouterr().err
