"""Property tests for the member side: the account parsers and the review queue's state machine."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client_sdk.client import oprf_input
from client_sdk.errors import InvalidIdentifierError
from client_sdk.member import MatchIndex, ReviewError
from client_sdk.member.accounts import AccountRow, BadRow, parse_accounts, read_rows
from client_sdk.member.review import DECIDE, DECIDED, HIT, OPEN, WITHDRAW, WITHDRAWN, Hit, ReviewQueue, next_status
from client_sdk.models import Identifier

PROPS = settings(max_examples=150, deadline=None)
GOOD = [
    ("email", "Jane.Doe+x@gmail.com", ""),
    ("phone", "+1 415 555 0100", ""),
    ("phone", "(415) 555-0100", "US"),
    ("payment_handle", "$JaneDoe", "cashapp"),
    ("username", "@Some_One", "instagram"),
    ("domain", "Evil.Example.", ""),
    ("ip", "192.0.2.1", ""),
    ("url", "http://Evil.Example/a/../b", ""),
]
TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=30)
RECORD = st.one_of(
    st.tuples(st.text(alphabet="abcXYZ0123456789-_", min_size=1, max_size=12), st.sampled_from(GOOD)),
    st.tuples(TEXT, st.tuples(TEXT, TEXT, TEXT)),
)


def _csv_line(account: str, kind: str, value: str, qualifier: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow([account, kind, value, qualifier])
    return out.getvalue()


def _expected(account: str, kind: str, value: str, qualifier: str) -> bytes | None:
    """What the row must give: its OPRF input, or None if it must be a bad row (independent re-check)."""
    text = account.strip()
    if not text or len(text) > 256 or any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        return None
    name = kind.strip().lower()
    if name in ("media_md5", "media_pdq") or name not in ("email", "phone", "username", "payment_handle", "url",
                                                          "domain", "ip"):  # fmt: skip
        return None
    field = {"payment_handle": "provider", "username": "platform", "phone": "region"}.get(name)
    q = qualifier.strip()
    if q and field is None:
        return None
    try:
        return oprf_input(name, Identifier(name, value, **({field: q} if field and q else {})).normalised())
    except InvalidIdentifierError:
        return None


@PROPS
@given(records=st.lists(RECORD, max_size=12), fmt=st.sampled_from(["csv", "jsonl"]))
def test_every_line_is_a_row_or_a_bad_row_with_its_number(records: list, fmt: str) -> None:
    lines, expected = [], {}
    for number, (account, (kind, value, qualifier)) in enumerate(records, start=1):
        if fmt == "csv":
            line = _csv_line(account, kind, value, qualifier)
        else:
            line = json.dumps({"account_id": account, "type": kind, "value": value, "provider": qualifier or None})
        lines.append(line)
        blank = fmt == "csv" and not line.strip()
        header = fmt == "csv" and account.strip().lower() == "account_id"
        if not blank and not header:
            expected[number] = (account.strip(), _expected(account, kind, value, qualifier))
    rows = list(parse_accounts(lines, fmt))
    assert [r.line for r in rows] == sorted(expected)  # every record once, in order, with its line number
    for row in rows:
        account, want = expected[row.line]
        if want is None:
            assert isinstance(row, BadRow) and row.reason
        else:
            assert isinstance(row, AccountRow), row
            assert row.account_id == account and row.oprf_input == want


@PROPS
@given(junk=st.lists(st.binary(max_size=40), max_size=8), fmt=st.sampled_from(["csv", "jsonl"]))
def test_arbitrary_bytes_never_raise_and_offsets_resume(junk: list[bytes], fmt: str) -> None:
    data = b"\n".join(junk) + b"\n"
    rows = list(read_rows(io.BytesIO(data), fmt))
    assert all(isinstance(r, (AccountRow, BadRow)) for _, r in rows)
    for i, (offset, row) in enumerate(rows):  # resuming after any row gives exactly the rows after it
        rest = list(read_rows(io.BytesIO(data), fmt, offset, row.line))
        assert rest == rows[i + 1 :]


def test_bad_rows_never_echo_the_value() -> None:
    secret = "victim-secret@example.com"
    lines = [f"1,{secret},x", f"2,email,{secret[:-4]}", f'{{"account_id": 3, "type": "{secret}", "value": "x"}}']
    for fmt in ("csv", "jsonl"):
        for row in parse_accounts(lines, fmt):
            assert isinstance(row, BadRow) and "victim" not in row.reason


# -- the queue's state machine -----------------------------------------------------------------------

ACTIONS = st.lists(st.tuples(st.sampled_from([HIT, WITHDRAW, DECIDE]), st.booleans()), max_size=30)


@PROPS
@given(actions=ACTIONS)
def test_state_machine_rules(actions: list[tuple[str, bool]]) -> None:
    status: str | None = None
    for action, force in actions:
        before = status
        try:
            status = next_status(status, action, force=force)
        except ReviewError:
            assert (before is None and action != HIT) or (before == WITHDRAWN and action == DECIDE and not force)
            continue
        if before == DECIDED:
            assert status == DECIDED  # a decision is never undone by the exchange's events
        if action == HIT:
            assert status == (DECIDED if before == DECIDED else OPEN)  # re-submission re-opens a withdrawn item
        if action == WITHDRAW:
            assert status == (WITHDRAWN if before in (OPEN, WITHDRAWN) else before)
        if action == DECIDE:
            assert status == DECIDED


def _hit(signal: int, own: str = "acct-1") -> Hit:
    return Hit("account", own, signal, "demo-a", "email", b"\x07" * 32, "grooming", "", 90, 1000 + signal)


@settings(max_examples=40, deadline=None)
@given(actions=ACTIONS)
def test_queue_in_a_real_file_follows_the_state_machine(
    tmp_path_factory: pytest.TempPathFactory, actions: list
) -> None:
    path: Path = tmp_path_factory.mktemp("queue") / "index.sqlite"
    with MatchIndex.open(path, create=True) as index:
        queue = ReviewQueue(index)
        status: str | None = None
        signal = 1
        for action, force in actions:
            try:
                expected = next_status(status, action, force=force)
            except ReviewError:
                expected = None
            if action == HIT:
                signal += 1 if status == WITHDRAWN else 0  # a re-submission is a new signal
                queue.record_hits([_hit(signal)])
            elif status is None:
                continue
            elif action == WITHDRAW:
                queue.withdraw_signal(signal, "retracted by demo-a: test")
            else:
                try:
                    queue.decide(1, "confirmed", reviewer="ana", note="n", force=force)
                except ReviewError as exc:
                    assert expected is None and "withdrawn" in str(exc) and "retracted" in str(exc)
                    continue
            status = expected
            [item] = queue.items()
            assert item.status == status and item.signal_id == signal
        pending = queue.decisions(state="pending")
        assert len(pending) <= 1  # only the latest unsent decision goes out


HITS = st.lists(
    st.tuples(
        st.sampled_from(["demo-a", "demo-c"]),
        st.sampled_from(["email", "phone"]),
        st.sampled_from(["grooming", "sextortion.financial"]),
        st.integers(min_value=1, max_value=4),  # corroboration
        st.integers(min_value=0, max_value=5),  # last seen
    ),
    max_size=25,
)
FILTERS = st.tuples(
    st.sampled_from(["", "demo-a"]), st.sampled_from(["", "email"]), st.sampled_from(["", "grooming"]),
    st.integers(min_value=0, max_value=4), st.sampled_from(["corroboration", "recent"]),
    st.integers(min_value=1, max_value=7), st.integers(min_value=0, max_value=30),
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(hits=HITS, wanted=FILTERS)
def test_a_queue_page_is_the_filtered_sorted_slice(
    tmp_path_factory: pytest.TempPathFactory, hits: list, wanted: tuple
) -> None:
    submitter, kind, category, least, order, limit, offset = wanted
    path: Path = tmp_path_factory.mktemp("page") / "index.sqlite"
    with MatchIndex.open(path, create=True) as index:
        queue = ReviewQueue(index)
        queue.record_hits([Hit("account", f"acct-{n}", n + 1, who, typ, bytes([n]) * 32, cat, "", 90, seen)
                           for n, (who, typ, cat, _, seen) in enumerate(hits)])  # fmt: skip
        with index.transaction() as conn:
            for n, (*_, corroboration, _seen) in enumerate(hits):
                conn.execute("UPDATE items SET corroboration = ? WHERE own_id = ?", (corroboration, f"acct-{n}"))
        every = queue.items(OPEN)
        kept = [i for i in every if (not submitter or i.submitter == submitter) and (not kind or i.type == kind)
                and (not category or i.category == category) and i.corroboration >= least]  # fmt: skip
        key = (lambda i: (i.corroboration, i.last_seen, i.id)) if order == "corroboration" else (
            lambda i: (i.last_seen, i.id))  # fmt: skip
        expected = sorted(kept, key=key, reverse=True)[offset : offset + limit]
        page, total = queue.page(OPEN, category=category, type=kind, submitter=submitter, min_corroboration=least,
                                 order=order, limit=limit, offset=offset)  # fmt: skip
        assert [i.id for i in page] == [i.id for i in expected] and total == len(kept)
        counts, facets = queue.summary()
        assert counts == {OPEN: len(every), DECIDED: 0, WITHDRAWN: 0}
        assert facets["submitter"] == sorted({i.submitter for i in every})
        assert set(queue.versions([i.id for i in page])) == {i.id for i in page}
