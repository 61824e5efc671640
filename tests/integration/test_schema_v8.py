"""Schema v7 -> v8 on both stores: a database made by the previous schema opens, records the certificates issued
from then on, and says of each member that existed before since when its certificates are known (the earlier
ones were never recorded, so none is invented)."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from client_sdk.admin import AdminClient
from client_sdk.wire import admin_pb2
from exchange.pki.ca import CertificateAuthority
from exchange.services.admin import certificate_record
from exchange.store.base import Store
from exchange.store.postgres import PostgresStore
from exchange.store.sqlite import SqliteStore
from tests.harness import Exchange, postgres_database, start_exchange, store_database
from tests.integration.schema_tools import postgres_at, sqlite_at

pytestmark = pytest.mark.integration

MEMBERS = [(1, "operator", "operator"), (2, "demo-a", "member"), (3, "auditor", "auditor")]


def _check_migrated(store: Store, before: int) -> None:
    members = {m.member_id: m for m in store.list_members()}
    assert set(members) == {"operator", "demo-a", "auditor"}
    for m in members.values():  # their certificates so far are unknown, from the migration on they are recorded
        assert before <= m.certs_known_from <= time.time() + 1
        assert store.list_certificates(m.member_id) == []
    issued = certificate_record(CertificateAuthority.create().issue_client("new-one"))
    at = int(time.time())
    store.add_member("new-one", "member", "new-one", at, kind="platform", certificate=issued)
    new = store.get_member("new-one")
    assert new is not None and new.certs_known_from == 0  # a member added after v8: every certificate is known
    [cert] = store.list_certificates("new-one")
    assert replace(cert, issued_at=0) == issued and cert.issued_at == at
    assert len(cert.fingerprint) == 32 and cert.not_after > cert.not_before
    assert cert.state(new.certs_from, time.time()) == "valid"


def test_sqlite_v7_to_v8(tmp_path: Path) -> None:
    path = tmp_path / "v7.db"
    sqlite_at(path, 7, MEMBERS)
    before = int(time.time())
    store = SqliteStore(path)
    try:
        _check_migrated(store, before)
    finally:
        store.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 8


def test_postgres_v7_to_v8() -> None:
    with postgres_database() as dsn:
        postgres_at(dsn, 7, MEMBERS)
        before = int(time.time())
        store = PostgresStore(dsn, pool_size=1)
        try:
            _check_migrated(store, before)
        finally:
            store.close()
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT max(version) FROM schema_version").fetchone() == (8,)


def _downgrade_to_v7(ex: Exchange) -> None:
    """Undo v8 on a stopped exchange's database: what an exchange of the previous release left behind."""
    if ex.database:
        with psycopg.connect(ex.database, autocommit=True) as conn, conn.transaction():
            conn.execute("DROP TABLE certificates")
            conn.execute("ALTER TABLE members DROP COLUMN certs_known_from")
            conn.execute("DELETE FROM schema_version WHERE version = 8")
    else:
        with sqlite3.connect(ex.db_path, isolation_level=None) as conn:
            conn.execute("DROP TABLE certificates")
            conn.execute("ALTER TABLE members DROP COLUMN certs_known_from")
            conn.execute("PRAGMA user_version = 7")


def test_an_exchange_upgraded_to_v8_lists_only_what_it_issued_since(tmp_path: Path, store: str) -> None:
    with store_database(store) as database:
        ex = start_exchange(tmp_path, database=database)
        ex.running.stop(grace=1)
        _downgrade_to_v7(ex)
        before = int(time.time())
        ex = start_exchange(tmp_path, database=database)  # the same data directory: v8 runs on start
        try:
            with AdminClient.connect(ex.address, ex.creds("operator")) as op:
                old = op.member("demo-a")
                assert list(old.certificates) == [] and old.certificates_known_from >= before
                renewed = op.change(issue_certificate=admin_pb2.IssueCertificate(member_id="demo-a"))
                now = op.member("demo-a")
                [cert] = now.certificates
                assert cert.issued_index == renewed.seq - 1 and cert.state == "valid"
                assert now.certificates_known_from == old.certificates_known_from  # still: earlier ones unknown
        finally:
            ex.running.stop(grace=1)
