"""A look-up of more than BATCH queries goes as several Lookup calls, two in flight: answers stay in the
caller's order, errors name the caller's query, and a call the exchange could not answer is retried on its own."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest

from client_sdk import ExchangeClient, Identifier, Signal
from client_sdk.errors import InvalidArgumentError
from tests.harness import Exchange
from tests.harness_process import ServerProcess

pytestmark = pytest.mark.integration

CAT = "sextortion.financial"
#: Where the stored identifiers sit among 2,100 queries (calls of 1,000): both ends of every call.
KNOWN_AT = (0, 1, 998, 999, 1000, 1001, 1999, 2000, 2099)
QUERIES = 2100


def _queries(rng: random.Random) -> tuple[list[Identifier | tuple[str, bytes]], dict[int, Identifier]]:
    known = {i: Identifier("email", f"known{i}@example.com") for i in KNOWN_AT}
    queries: list[Identifier | tuple[str, bytes]] = []
    for i in range(QUERIES):
        if i in known:
            queries.append(known[i])
        elif i % 3:
            queries.append(("email", rng.randbytes(32)))
        else:
            queries.append(Identifier("email", f"never{i}@example.com"))
    return queries, known


def test_split_lookup_keeps_the_callers_order(shared_exchange: Exchange) -> None:
    queries, known = _queries(random.Random(7))
    with shared_exchange.client("demo-a") as submitter:
        results = submitter.submit([Signal(ident, category=CAT) for ident in known.values()])
    signal_ids = {i: r.signal_id for i, r in zip(known, results, strict=True)}
    with shared_exchange.client("demo-b") as reader:
        answers = reader.lookup(queries)
        one_by_one = {i: reader.lookup([known[i]])[0] for i in known}
    assert len(answers) == len(queries)
    for i, (query, answer) in enumerate(zip(queries, answers, strict=True)):
        assert answer.query == (query if isinstance(query, Identifier) else query[1])
        if i in known:
            assert [m.signal_id for m in answer.matches] == [signal_ids[i]], i
            assert answer.matches == one_by_one[i].matches
        else:
            assert not answer.found, i


def test_an_error_names_the_callers_query(shared_exchange: Exchange) -> None:
    queries: list[Identifier | tuple[str, bytes]] = [("email", bytes(32))] * 2500
    queries[1777] = ("email", b"short")  # in the second call, as its query 777
    with shared_exchange.client("demo-b") as client, pytest.raises(InvalidArgumentError) as exc:
        client.lookup(queries)
    assert exc.value.reason == "bad_value"
    assert exc.value.message.startswith("query 1777: ")


def test_calls_made_while_the_exchange_is_down_are_retried(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", tmp_path / "server.log")
    address, creds = server.address, server.creds("demo-b")
    queries: list[Identifier | tuple[str, bytes]] = [("email", bytes([i % 256]) * 32) for i in range(3000)]
    notices: list[str] = []
    answers: list[int] = []
    with ExchangeClient.connect(address, credentials=creds, on_retry=notices.append) as client:
        client.lookup(queries[:1])  # the channel is up
        assert server.stop() == 0

        def look() -> None:
            answers.append(len(client.lookup(queries)))

        thread = threading.Thread(target=look, daemon=True)
        thread.start()
        thread.join(1.0)
        assert thread.is_alive()  # waiting for the exchange
        restarted = ServerProcess(tmp_path / "data", tmp_path / "server.log", listen=address)
        try:
            thread.join(60)
            assert not thread.is_alive()
        finally:
            assert restarted.stop() == 0
    assert answers == [3000]
    assert notices and "retrying" in notices[0]
