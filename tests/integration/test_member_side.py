"""The member side end to end: sigx index / match / review against a real exchange, real index files, real images."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from client_sdk import Identifier, Signal
from client_sdk.admin import AdminClient
from client_sdk.member import MatchIndex
from client_sdk.wire import admin_pb2
from exchange.cli import main
from tests.harness import Exchange

pytestmark = pytest.mark.integration
CATEGORY = "sextortion.financial"
ROOT = Path(__file__).resolve().parents[2]


def grant_bulk(exchange: Exchange, per_day: int) -> None:
    with AdminClient.connect(exchange.address, exchange.creds("operator")) as op:
        op.change(apply_policy=admin_pb2.ApplyPolicy(document=f"[defaults]\noprf_bulk_per_day = {per_day}\n"))


class Cli:
    """Runs sigx in-process; keeps everything it printed (B's logs, for the privacy scan)."""

    def __init__(self, exchange: Exchange, capsys: pytest.CaptureFixture[str]) -> None:
        self.exchange = exchange
        self.capsys = capsys
        self.log: list[str] = []

    def creds(self, name: str) -> list[str]:
        return ["--as", str(self.exchange.creds(name)), "--server", self.exchange.address]

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = self.capsys.readouterr()
        self.log += [captured.out, captured.err]
        return code, captured.out, captured.err


def accounts_csv(path: Path, rows: list[tuple[str, str, str, str]], bad: list[str] = ()) -> Path:  # type: ignore[assignment]
    lines = ["account_id,type,value,provider"] + [",".join(r) for r in rows] + list(bad)
    path.write_text("\n".join(lines) + "\n")
    return path


def fillers(n: int, tag: str = "b") -> list[tuple[str, str, str, str]]:
    kinds = [
        lambda i: ("email", f"filler.{tag}{i}@member-{tag}.example", ""),
        lambda i: ("username", f"@filler_{tag}_{i}", "instagram"),
        lambda i: ("payment_handle", f"${tag}filler{i}", "cashapp"),
        lambda i: ("ip", f"198.51.{i // 250}.{i % 250}", ""),
    ]
    return [(f"{tag}-{i:04d}", *kinds[i % 4](i)) for i in range(n)]


# -- the whole loop ----------------------------------------------------------------------------------

PEOPLE = {  # what A submits -> how B knows the same people
    "email:Jane.Doe@gmail.com": [
        ("b-101", "email", "janedoe+promo@googlemail.com", ""), ("b-106", "email", " JANE.DOE@GMAIL.COM", "")
    ],
    "phone:+1 415 555 0100": [("b-102", "phone", "(415) 555-0100", "US")],
    "payment_handle:$JaneDoe": [("b-103", "payment_handle", "https://cash.app/$janedoe", "")],
    "email:Mark.Smith@example.com": [("b-104", "email", "MARK.SMITH@EXAMPLE.COM", "")],
    "payment_handle:$Offender99": [("b-105", "payment_handle", "$offender99", "cashapp")],
}  # fmt: skip
NEAR_MISSES = [("b-107", "email", "mark.smith@example.org", ""), ("b-108", "payment_handle", "$offender98", "cashapp")]


def _a_signals(image: Path) -> list[Signal]:
    out = []
    for key in PEOPLE:
        kind, value = key.split(":", 1)
        provider = "cashapp" if kind == "payment_handle" else None
        out.append(Signal(Identifier(kind, value, provider=provider), category=CATEGORY))
    out.append(Signal(Identifier("email", "someone.else@example.net"), category=CATEGORY))  # B has no such account
    out.append(Signal(Identifier.from_image(image), category="csam.distribution"))
    return out


def _images(vectors: Path, folder: Path) -> Path:
    from PIL import Image

    folder.mkdir()
    original = vectors / "pdq" / "bridge-mods" / "aaa-orig.jpg"
    with Image.open(original) as im:
        im.resize((im.width * 2 // 5, im.height * 2 // 5)).save(folder / "resized.jpg", quality=60)
        im.transpose(Image.Transpose.ROTATE_90).save(folder / "rotated.png")
    (folder / "other.jpg").write_bytes((vectors / "pdq" / "misc" / "wee.jpg").read_bytes())
    (folder / "notes.txt").write_text("not an image")
    return original


@pytest.mark.sqlite_only
def test_index_match_review_feedback_and_privacy(
    exchange: Exchange, tmp_path: Path, capsys: pytest.CaptureFixture[str], vectors: Path, server_log: Path
) -> None:
    cli = Cli(exchange, capsys)
    grant_bulk(exchange, 100_000)
    original = _images(vectors, tmp_path / "images")
    with exchange.client("demo-a") as a:
        results = {r.status for r in a.submit(_a_signals(original))}
        assert results == {"accepted"}
    with exchange.client("demo-b") as b:  # B itself has also seen one of them: corroboration 2
        b.submit([Signal(Identifier("payment_handle", "$offender99", provider="cashapp"), category=CATEGORY)])

    mine = [row for rows in PEOPLE.values() for row in rows] + NEAR_MISSES
    rows = fillers(1000 - len(mine)) + mine
    csv_file = accounts_csv(tmp_path / "accounts.csv", rows, bad=["b-900,email,not-an-email,", "b-901,fax,5551234,"])
    index = tmp_path / "b.idx"
    code, out, err = cli("index", "add", *cli.creds("demo-b"), "--index", str(index), str(csv_file))
    assert code == 1  # bad rows were skipped
    assert "line 1002: skipped: invalid email" in err and "line 1003: skipped: unknown type" in err
    assert "1000 rows indexed (1000 new identifier(s)), 2 bad row(s) skipped" in out
    assert "ETA" in err or "lines" in err
    code, out, _ = cli("index", "add", *cli.creds("demo-b"), "--index", str(index), str(csv_file))
    assert code == 0 and "already indexed" in out

    code, out, err = cli("index", "add-media", "--index", str(index), str(tmp_path / "images"))
    assert code == 1 and "notes.txt" in err and "not an image" in err and "3 file(s) indexed, 1 skipped" in err

    code, out, _ = cli("index", "stats", "--index", str(index), "--json")
    stats = json.loads(out)
    assert stats["accounts"] == 1000 and stats["media_items"] == 3 and stats["member_id"] == "demo-b"

    code, out, _ = cli("match", *cli.creds("demo-b"), "--index", str(index))
    assert code == 0
    code, out, _ = cli("review", "list", "--index", str(index), "--json")
    items = [json.loads(line) for line in out.splitlines()]
    found = {(i["own_kind"], i["own_id"]) for i in items}
    expected = {("account", row[0]) for rows in PEOPLE.values() for row in rows} | {("content", "resized.jpg")}
    assert found == expected  # exactly these: no near miss, no other image, not B's own signal
    by_own = {i["own_id"]: i for i in items}
    assert by_own["resized.jpg"]["distance"] <= 31 and by_own["resized.jpg"]["type"] == "media_pdq"
    assert by_own["b-105"]["corroboration"] == 2 and by_own["b-103"]["corroboration"] == 1
    assert by_own["b-101"]["signal_id"] == by_own["b-106"]["signal_id"]  # one person, two of B's accounts
    assert all(i["status"] == "open" and i["submitter"] == "demo-a" for i in items)

    # B decides: sent at once as signed feedback; A sees it in its look-up counts
    cashtag = by_own["b-103"]
    code, out, _ = cli(
        "review", "decide", *cli.creds("demo-b"), "--index", str(index), str(cashtag["id"]), "confirmed",
        "--note", "private-note-3141: matched our ticket", "--reviewer", "ana",
    )  # fmt: skip
    assert code == 0 and "sent (log index" in out
    # a decision while the exchange is unreachable is queued, then sent exactly once
    email = by_own["b-104"]
    code, out, err = cli(
        "review", "decide", "--as", str(exchange.creds("demo-b")), "--server", "127.0.0.1:1", "--index", str(index),
        str(email["id"]), "actioned", "--reviewer", "ana",
    )  # fmt: skip
    assert code == 0 and "queued" in out and "UNAVAILABLE" in err
    code, out, _ = cli("review", "send", *cli.creds("demo-b"), "--index", str(index))
    assert code == 0 and out.startswith("1 sent, 0 refused, 0 still queued")
    code, out, _ = cli("review", "send", *cli.creds("demo-b"), "--index", str(index))
    assert out.startswith("0 sent")
    with exchange.client("demo-a") as a:
        [cash_hit, mark_hit] = a.lookup(
            [
                Identifier("payment_handle", "$JaneDoe", provider="cashapp"),
                Identifier("email", "Mark.Smith@example.com"),
            ]
        )
        assert cash_hit.matches[0].feedback["confirmed"] == 1
        assert mark_hit.matches[0].feedback["actioned"] == 1
        with AdminClient.connect(exchange.address, exchange.creds("operator")) as op:
            verdicts = {c.key: c.value for c in op.stats().feedback_by_verdict}
        assert verdicts == {"confirmed": 1, "actioned": 1}  # each decision once

        # A retracts one signal: B's item becomes withdrawn, with the reason
        phone_signal = by_own["b-102"]["signal_id"]
        a.retract(phone_signal, reason="appeal upheld")
    code, out, _ = cli("match", *cli.creds("demo-b"), "--index", str(index), "--json")
    assert json.loads(out)["withdrawn"] == 1
    code, out, _ = cli("review", "list", "--index", str(index), "--status", "withdrawn", "--json")
    [withdrawn] = [json.loads(line) for line in out.splitlines()]
    assert withdrawn["own_id"] == "b-102" and withdrawn["reason"] == "retracted by demo-a: appeal upheld"
    code, out, err = cli("review", "decide", "--index", str(index), str(withdrawn["id"]), "confirmed")
    assert code == 2 and "withdrawn (retracted by demo-a: appeal upheld)" in err and "--force" in err
    code, out, err = cli(
        "review", "decide", *cli.creds("demo-b"), "--index", str(index), str(withdrawn["id"]), "confirmed", "--force"
    )
    assert code == 1 and "refused" in out and "FAILED_PRECONDITION" in out
    # A retracts Jane's e-mail and submits it again: a new SUBMIT of the same signal re-opens B's items
    jane = by_own["b-101"]["signal_id"]
    with exchange.client("demo-a") as a:
        a.retract(jane, reason="entered too early")
        cli("match", *cli.creds("demo-b"), "--index", str(index))
        [again] = a.submit([Signal(Identifier("email", "Jane.Doe@gmail.com"), category=CATEGORY)])
        assert again.status == "accepted" and again.signal_id == jane
    code, out, _ = cli("match", *cli.creds("demo-b"), "--index", str(index), "--json")
    assert json.loads(out)["new_items"] == 2
    code, out, _ = cli("review", "list", "--index", str(index), "--status", "open", "--json")
    assert {"b-101", "b-106"} <= {json.loads(line)["own_id"] for line in out.splitlines()}
    code, out, _ = cli("review", "show", "--index", str(index), str(cashtag["id"]))
    assert "confirmed by ana" in out and "private-note-3141" in out  # the note stays here, on B's machine

    # a second index of B's images only, matched with --dihedral: the rotated copy is found too
    images_only = tmp_path / "media.idx"
    cli("index", "add-media", "--index", str(images_only), str(tmp_path / "images" / "resized.jpg"),
        str(tmp_path / "images" / "rotated.png"), str(tmp_path / "images" / "other.jpg"))  # fmt: skip
    cli("match", *cli.creds("demo-b"), "--index", str(images_only), "--dihedral")
    code, out, _ = cli("review", "list", "--index", str(images_only), "--json")
    dihedral = {json.loads(line)["own_id"]: json.loads(line)["variant"] for line in out.splitlines()}
    assert set(dihedral) == {"resized.jpg", "rotated.png"} and dihedral["resized.jpg"] == "original"

    # privacy: none of B's raw identifiers (as written, or normalised) nor B's note is anywhere
    secrets = {value.strip() for _, _, value, _ in rows} | {"not-an-email", "5551234"}
    from client_sdk.member.accounts import parse_accounts

    secrets |= {
        r.oprf_input.split(b"\x00", 1)[1].decode()
        for r in parse_accounts(csv_file.read_text().splitlines())
        if hasattr(r, "oprf_input")
    }
    secrets.discard("")
    places = {
        "index file": b"".join(p.read_bytes() for p in tmp_path.glob("b.idx*")),
        "B's output": "\n".join(cli.log).encode(),
        "server database": b"".join(p.read_bytes() for p in exchange.data_dir.glob("exchange.db*")),
        "server log": server_log.read_bytes(),
    }
    for where, blob in places.items():
        blob = blob.lower()
        leaked = [s for s in secrets if s.lower().encode() in blob]
        assert not leaked, f"{where} holds raw identifiers: {leaked[:5]}"
    for where in ("server database", "server log"):
        assert b"private-note-3141" not in places[where]


def test_bulk_quota_exhaustion_leaves_a_resumable_index(
    exchange: Exchange, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = Cli(exchange, capsys)
    rows = fillers(3000, "q")
    csv_file = accounts_csv(tmp_path / "accounts.csv", rows)
    grant_bulk(exchange, 1200)
    index = tmp_path / "q.idx"
    argv = ["index", "add", *cli.creds("demo-b"), "--index", str(index), "--batch-size", "200", str(csv_file)]
    code, out, err = cli(*argv)
    assert code == 2 and "bulk OPRF quota is exhausted" in err and "retry in" in err and "run the same command" in err
    with MatchIndex.open(index) as ix:
        ids = {r[0] for r in ix.query("SELECT account_id FROM accounts")}
        [(line,)] = ix.query("SELECT line FROM sources")
    assert 0 < len(ids) <= 1200 and len(ids) % 200 == 0
    assert ids == {r[0] for r in rows[: len(ids)]}  # a contiguous prefix, and the saved progress says so
    assert line == len(ids) + 1  # the header line, then one line per row
    grant_bulk(exchange, 100_000)
    code, out, err = cli(*argv)
    assert code == 0 and f"resumed after line {line}" in out
    with MatchIndex.open(index) as ix:
        assert ix.stats().accounts == 3000
    code, out, _ = cli("admin", "stats", *cli.creds("operator"), "--json")
    stats = json.loads(out)
    bulk = {c["key"]: int(c["value"]) for c in stats["bulk_evaluations_by_member"]}
    assert 3000 <= bulk["demo-b"] <= 3000 + 3 * 200  # what was admitted, and nothing counted as ordinary use
    assert "demo-b" not in {c["key"] for c in stats.get("evaluations_by_member", [])}
    code, out, _ = cli("admin", "stats", *cli.creds("operator"))
    assert "bulk OPRF evaluations by member" in out


@pytest.mark.sqlite_only
def test_sigkill_half_way_then_rerun_equals_one_run(
    exchange: Exchange, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = Cli(exchange, capsys)
    grant_bulk(exchange, 100_000)
    csv_file = accounts_csv(tmp_path / "accounts.csv", fillers(4000, "k"), bad=["k-bad,email,nope,"])
    killed = tmp_path / "killed.idx"
    argv = ["index", "add", "--as", str(exchange.creds("demo-b")), "--server", exchange.address, "--index"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "exchange.cli", *argv, str(killed), "--batch-size", "100", str(csv_file)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        try:
            with sqlite3.connect(f"file:{killed}?mode=ro", uri=True, timeout=1) as conn:
                done = conn.execute("SELECT coalesce(max(line), 0) FROM sources").fetchone()[0]
        except sqlite3.Error:
            continue
        if done >= 1200:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL and 1200 <= done < 4000, (proc.returncode, done)
    code, out, _ = cli(*argv, str(killed), "--batch-size", "100", str(csv_file))
    assert code == 1 and "resumed after line" in out  # the bad row (after the kill point) is still reported
    whole = tmp_path / "whole.idx"
    assert cli(*argv, str(whole), str(csv_file))[0] == 1

    def content(path: Path) -> list[tuple]:
        with sqlite3.connect(path) as conn:
            return conn.execute("SELECT pseudonym, account_id, type FROM accounts ORDER BY 1, 2").fetchall()

    assert len(content(whole)) == 4000 and content(killed) == content(whole)


@pytest.mark.sqlite_only
def test_bad_input_is_one_line_never_a_traceback(
    exchange: Exchange, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = Cli(exchange, capsys)
    grant_bulk(exchange, 100_000)
    index = tmp_path / "b.idx"
    csv_file = accounts_csv(tmp_path / "a.csv", fillers(10))
    assert cli("index", "add", *cli.creds("demo-b"), "--index", str(index), str(csv_file))[0] == 0

    code, _, err = cli("index", "stats", "--index", str(index), "--as", str(exchange.creds("demo-a")))
    assert code == 2 and "member demo-b's match index, not demo-a's" in err
    with sqlite3.connect(index) as conn:
        conn.execute("UPDATE meta SET value = '7' WHERE key = 'oprf_epoch'")
    code, _, err = cli("match", *cli.creds("demo-b"), "--index", str(index))
    assert code == 2 and "built for OPRF key epoch 7" in err and "epoch 1" in err
    with sqlite3.connect(index) as conn:
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'oprf_epoch'")

    garbage = tmp_path / "garbage.idx"
    garbage.write_bytes(b"this is not a database at all" * 100)
    other_db = tmp_path / "other.sqlite"
    with sqlite3.connect(other_db) as conn:
        conn.execute("CREATE TABLE t (x)")
    truncated = tmp_path / "truncated.idx"
    with sqlite3.connect(index) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = index.read_bytes()
    truncated.write_bytes(data[:4096] + bytes(4096) + data[8192 : len(data) // 2])
    for path, words in ((garbage, "not a match index"), (other_db, "not a match index"), (truncated, "damaged")):
        before = path.read_bytes()
        for argv in (("index", "stats"), ("review", "list"), ("index", "add-media")):
            extra = [str(tmp_path / "a.csv")] if argv[1] == "add-media" else []
            code, _, err = cli(*argv, "--index", str(path), *extra)
            assert code == 2 and words in err and "Traceback" not in err, (path, argv, err)
        assert path.read_bytes() == before  # nothing overwritten

    code, _, err = cli("review", "list", "--index", str(tmp_path / "none.idx"))
    assert code == 2 and "no match index" in err and not (tmp_path / "none.idx").exists()
    code, _, err = cli("review", "show", "--index", str(index), "999")
    assert code == 2 and "no review item 999" in err
    code, _, err = cli("index", "add", *cli.creds("demo-b"), "--index", str(index), str(tmp_path / "missing.csv"))
    assert code == 2 and "no such file" in err
    code, _, err = cli("index", "remove", "--index", str(index), "--file", str(tmp_path / "missing.txt"))
    assert code == 2 and "cannot be read" in err
    code, out, _ = cli("index", "remove", "--index", str(index), "b-0001", "b-0002")
    assert code == 0 and "removed 2 identifier row(s)" in out


@pytest.mark.sqlite_only
def test_follow_matches_live_events(exchange: Exchange, tmp_path: Path) -> None:
    grant_bulk(exchange, 100_000)
    csv_file = accounts_csv(tmp_path / "a.csv", [("acct-7", "email", "live.one@example.com", "")])
    with exchange.client("demo-b") as b, MatchIndex.open(tmp_path / "b.idx", create=True) as index:
        index.add_accounts(b, csv_file)
        seen = threading.Event()
        thread = threading.Thread(
            target=lambda: index.match(b, follow=True, on_step=lambda r: seen.set() if r.new_items else None),
            daemon=True,
        )
        thread.start()
        with exchange.client("demo-a") as a:
            a.submit([Signal(Identifier("email", "Live.One@Example.com"), category=CATEGORY)])
        assert seen.wait(30)
        b.close()
        thread.join(30)
        [item] = index.review.items()
        assert item.own_id == "acct-7" and item.status == "open" and index.cursor
