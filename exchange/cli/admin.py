"""``sigx admin``: the operator's commands (operator credentials required).

Every change is signed with the operator's key; tables for people, ``--json`` for scripts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from google.protobuf.json_format import MessageToDict

from client_sdk.admin import AdminClient, days_left, state_label
from client_sdk.credentials import CERT_FILE, SIGNING_KEY_FILE, TLS_KEY_FILE, Credentials, write_credentials
from client_sdk.errors import DeadlineExceededError, UnavailableError
from client_sdk.keys import SigningKey
from client_sdk.secure_files import write_private_file
from client_sdk.wire import admin_pb2
from exchange.cli.common import UsageError
from exchange.cli.serve import server_modules
from exchange.pki.ca import not_after, private_key_pem

Handler = Callable[[AdminClient, argparse.Namespace], Any]


def _table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    cells = [list(map(str, header)), *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells)


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2, sort_keys=True) if args.json else text)


def _change(client: AdminClient, args: argparse.Namespace, **change: Any) -> admin_pb2.ApplyChangeResponse:
    resp = client.change(dry_run=getattr(args, "dry_run", False), **change)
    _emit(args, {"seq": resp.seq, "summary": resp.summary, "key_id": resp.key_id}, resp.summary)
    return resp


# -- members ------------------------------------------------------------------------


def _new_tls_key() -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    """A TLS key made here (its private half never leaves this machine) and its public key, DER SPKI."""
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key, der


def member_add(client: AdminClient, args: argparse.Namespace) -> None:
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} exists and is not empty")
    key = SigningKey.generate()
    tls_key, tls_spki = _new_tls_key()
    change = admin_pb2.AddMember(
        member_id=args.name,
        role=args.role,
        display_name=args.display_name or args.name,
        signing_public_key=key.public_key,
        tls_public_key=tls_spki,
        kind=args.kind or "",
    )
    resp = client.change(add_member=change)
    op = client.credentials
    write_credentials(
        out,
        member_id=args.name,
        role=args.role,
        address=args.server or op.address,
        ca_pem=op.ca_pem,
        cert_pem=resp.certificate.cert_pem,
        tls_key_pem=private_key_pem(tls_key),
        signing_key=key,
        oprf_public_key=op.oprf_public_key,
        oprf_epoch=op.oprf_epoch,
        log_public_key=op.log_public_key,
        log_origin=op.log_origin,
        log_key_name=op.log_key_name,
    )
    _emit(
        args,
        {"seq": resp.seq, "member_id": args.name, "key_id": resp.key_id, "credentials": str(out)},
        f"{resp.summary}\ncredentials written to {out} (hand them to the member over a secure channel)",
    )


def member_list(client: AdminClient, args: argparse.Namespace) -> None:
    members = client.members()
    _emit(
        args,
        [MessageToDict(m, preserving_proto_field_name=True) for m in members],
        _table(
            [(m.member_id, m.role, m.kind or "-", m.status, m.display_name) for m in members],
            ("MEMBER", "ROLE", "KIND", "STATUS", "NAME"),
        ),
    )


def member_show(client: AdminClient, args: argparse.Namespace) -> None:
    m = client.member(args.name)
    certs = "any from this exchange's CA"
    if m.certificates_from:
        since = dt.datetime.fromtimestamp(m.certificates_from, dt.UTC)
        certs = f"only those valid from {since:%Y-%m-%d %H:%M:%S} UTC on (earlier ones revoked)"
    text = (
        f"member   {m.member_id} ({m.display_name})\nrole     {m.role}\nkind     {m.kind or '-'}\nstatus   {m.status}\n"
        f"groups   {', '.join(m.groups) or '-'}\nkeys     {', '.join(m.key_ids) or '-'}\ncerts    {certs}\n\n"
        f"{_certificates(m)}\n\n{m.policy}"
    )
    _emit(args, MessageToDict(m, preserving_proto_field_name=True), text)


def _certificates(m: admin_pb2.MemberDetail) -> str:
    """The member's certificates as a table (and what is not known of those issued before v8)."""
    now = time.time()

    def day(t: int) -> str:
        return f"{dt.datetime.fromtimestamp(t, dt.UTC):%Y-%m-%d}"

    rows = [
        (c.serial[:16], day(c.issued_at), day(c.not_after), days_left(c.not_after, now), state_label(c.state))
        for c in m.certificates
    ]
    out = _table(rows, ("SERIAL", "ISSUED", "EXPIRES", "DAYS_LEFT", "STATE")) if rows else "no certificate recorded"
    if m.certificates_known_from:
        out += f"\n(certificates issued before {day(m.certificates_known_from)} were not recorded and are not listed)"
    return out


def member_set_kind(client: AdminClient, args: argparse.Namespace) -> None:
    _change(
        client,
        args,
        set_member_kind=admin_pb2.SetMemberKind(member_id=args.name, kind=args.kind, reason=args.reason or ""),
    )


def _status(status: str) -> Handler:
    def handler(client: AdminClient, args: argparse.Namespace) -> None:
        _change(
            client,
            args,
            set_member_status=admin_pb2.SetMemberStatus(
                member_id=args.name, status=status, reason=getattr(args, "reason", "") or ""
            ),
        )

    return handler


# -- keys ---------------------------------------------------------------------------


def key_list(client: AdminClient, args: argparse.Namespace) -> None:
    keys = client.keys(args.member or "")
    rows = [(k.key_id, k.member_id, k.not_before, k.not_after or "-", k.revoked_at or "-") for k in keys]
    _emit(
        args,
        [MessageToDict(k, preserving_proto_field_name=True) for k in keys],
        _table(rows, ("KEY", "MEMBER", "NOT_BEFORE", "NOT_AFTER", "REVOKED_AT")),
    )


def _read_public_key(text: str) -> bytes:
    path = Path(text)
    if path.exists():
        data = path.read_bytes()
        if b"PRIVATE KEY" in data:
            raise UsageError("that file holds a private key; give the public key")
        from cryptography.hazmat.primitives import serialization

        return serialization.load_pem_public_key(data).public_bytes(  # type: ignore[no-any-return]
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise UsageError("expected a PEM public key file or 64 hex digits") from None


def key_register(client: AdminClient, args: argparse.Namespace) -> None:
    _change(
        client,
        args,
        register_key=admin_pb2.RegisterKey(member_id=args.member, public_key=_read_public_key(args.public_key)),
    )


def member_renew_cert(client: AdminClient, args: argparse.Namespace) -> None:
    """A new TLS key made here (it never leaves this machine) and a certificate for it from the exchange;
    the old pair is kept beside them as ``*.old``. Connections made from now on use the new pair."""
    creds_dir = Path(args.credentials)
    old = Credentials.load(creds_dir)
    if old.member_id != args.name:
        raise UsageError(f"{creds_dir} holds credentials of {old.member_id}, not {args.name}")
    key, spki = _new_tls_key()
    change = admin_pb2.IssueCertificate(member_id=args.name, tls_public_key=spki, revoke_earlier=args.revoke_old)
    try:
        resp = client.change(dry_run=args.dry_run, issue_certificate=change)
    except (UnavailableError, DeadlineExceededError) as exc:
        raise UsageError(
            f"{exc.diagnostics()}\nthe exchange may or may not have issued the certificate; nothing was"
            f" written to {creds_dir}: run the command again (it issues another)"
        ) from None
    if args.dry_run:
        _emit(args, {"seq": 0, "summary": resp.summary}, resp.summary)
        return
    # New pair and copies of the old one first (private keys created 0600), then one rename each.
    write_private_file(creds_dir / f"{TLS_KEY_FILE}.new", private_key_pem(key))
    (creds_dir / f"{CERT_FILE}.new").write_bytes(resp.certificate.cert_pem)
    write_private_file(creds_dir / f"{TLS_KEY_FILE}.old", old.tls_key_pem)
    (creds_dir / f"{CERT_FILE}.old").write_bytes(old.cert_pem)
    os.replace(creds_dir / f"{TLS_KEY_FILE}.new", creds_dir / TLS_KEY_FILE)
    os.replace(creds_dir / f"{CERT_FILE}.new", creds_dir / CERT_FILE)
    expires = not_after(resp.certificate.cert_pem)
    _emit(
        args,
        {"seq": resp.seq, "member_id": args.name, "not_after": expires.isoformat(), "credentials": str(creds_dir)},
        f"{resp.summary}\n{creds_dir / CERT_FILE} and {TLS_KEY_FILE} replaced (the old ones are *.old)",
    )


def key_rotate(client: AdminClient, args: argparse.Namespace) -> None:
    creds_dir = Path(args.credentials)
    old = Credentials.load(creds_dir)
    if old.member_id != args.member:
        raise UsageError(f"{creds_dir} holds credentials of {old.member_id}, not {args.member}")
    new = SigningKey.generate()
    registered = client.change(register_key=admin_pb2.RegisterKey(member_id=args.member, public_key=new.public_key))
    old_copy = creds_dir / f"{SIGNING_KEY_FILE}.{old.signing_key.key_id}.old"
    write_private_file(old_copy, (creds_dir / SIGNING_KEY_FILE).read_bytes())  # created 0600, never wider
    write_private_file(creds_dir / SIGNING_KEY_FILE, new.to_pem())
    retired = client.change(retire_key=admin_pb2.RetireKey(key_id=old.signing_key.key_id))
    _emit(
        args,
        {"new_key_id": new.key_id, "old_key_id": old.signing_key.key_id, "seq": [registered.seq, retired.seq]},
        f"{registered.summary}\n{retired.summary}\n{creds_dir / SIGNING_KEY_FILE} now holds {new.key_id}",
    )


def key_revoke(client: AdminClient, args: argparse.Namespace) -> None:
    _change(client, args, revoke_key=admin_pb2.RevokeKey(key_id=args.key_id, reason=args.reason or ""))


# -- groups -------------------------------------------------------------------------


def group_create(client: AdminClient, args: argparse.Namespace) -> None:
    _change(client, args, create_group=admin_pb2.CreateGroup(name=args.group))


def _membership(member: bool) -> Handler:
    def handler(client: AdminClient, args: argparse.Namespace) -> None:
        _change(
            client,
            args,
            set_group_membership=admin_pb2.SetGroupMembership(group=args.group, member_id=args.member, member=member),
        )

    return handler


def group_list(client: AdminClient, args: argparse.Namespace) -> None:
    groups = client.groups()
    _emit(
        args,
        {g.name: list(g.members) for g in groups},
        _table([(g.name, ", ".join(g.members) or "-") for g in groups], ("GROUP", "MEMBERS")),
    )


# -- policy and retention -----------------------------------------------------------


def policy_show(client: AdminClient, args: argparse.Namespace) -> None:
    policy = client.policy()
    _emit(
        args,
        {"version": policy.version, "document": policy.document},
        f"# policy version {policy.version}\n{policy.document}",
    )


def policy_apply(client: AdminClient, args: argparse.Namespace) -> None:
    document = Path(args.file).read_text()
    version = client.policy().version
    change = admin_pb2.ApplyPolicy(document=document, base_version=version)
    preview = client.change(dry_run=True, apply_policy=change)
    changed = not preview.summary.startswith("no change")
    if not args.json:
        print(preview.summary.rstrip())
    if not changed or args.dry_run:
        if args.json:
            _emit(args, {"changed": changed, "diff": preview.summary, "applied": False}, "")
        return
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("not applied; pass --yes to apply without a prompt")
        if input("Apply this policy? [y/N] ").strip().lower() not in ("y", "yes"):
            raise UsageError("not applied")
    resp = client.change(apply_policy=change)
    _emit(
        args, {"changed": True, "diff": preview.summary, "applied": True, "seq": resp.seq}, resp.summary.splitlines()[0]
    )


def charter_show(client: AdminClient, args: argparse.Namespace) -> None:
    c = client.charter()
    where = "the default charter"
    if c.version:
        applied = dt.datetime.fromtimestamp(c.applied_at, dt.UTC)
        where = (
            f"version {c.version}, sha256:{c.sha256.hex()}, applied {applied:%Y-%m-%d %H:%M:%S} UTC"
            f" (log index {c.applied_index})"
        )
    data = {"version": c.version, "sha256": c.sha256.hex(), "document": c.document, "applied_at": c.applied_at}
    _emit(args, data | {"applied_index": c.applied_index}, f"# {where}\n{c.document}")


def charter_apply(client: AdminClient, args: argparse.Namespace) -> None:
    document = Path(args.file).read_text()
    resp = client.apply_charter(document, base_version=client.charter().version, dry_run=args.dry_run)
    _emit(args, {"seq": resp.seq, "summary": resp.summary}, resp.summary)


def warninglist_create(client: AdminClient, args: argparse.Namespace) -> None:
    change = admin_pb2.CreateWarninglist(name=args.name, mode=args.mode, description=args.description or "")
    _change(client, args, create_warninglist=change)


def _warninglist_values(client: AdminClient, items: Sequence[str], raw: bool) -> dict[str, list[bytes]]:
    """``TYPE:VALUE`` items by type: identifiers pseudonymised through the exchange (as any member's are),
    media hashes as they are; with ``raw``, every VALUE is the stored value in hex (a pseudonym or a hash)."""
    from client_sdk import ExchangeClient
    from client_sdk.vocab import canonical_type
    from exchange.cli.signals import parse_query

    by_type: dict[str, list[bytes]] = {}
    if raw:
        for item in items:
            kind, sep, text = item.partition(":")
            if not sep:
                raise UsageError(f"expected TYPE:HEX, got {item[:60]!r}")
            try:
                by_type.setdefault(canonical_type(kind), []).append(bytes.fromhex(text))
            except ValueError as exc:
                raise UsageError(f"{item[:60]!r}: {exc}") from None
        return by_type
    idents = [parse_query(item) for item in items]
    with ExchangeClient.connect(client.credentials.address, credentials=client.credentials) as member:
        values = member._values(idents)
    for ident, value in zip(idents, values, strict=True):
        by_type.setdefault(ident.type, []).append(value)
    return by_type


def _warninglist_entries(remove: bool) -> Handler:
    def handler(client: AdminClient, args: argparse.Namespace) -> None:
        from client_sdk.vocab import TYPE_CODES

        results: list[dict[str, Any]] = []
        for kind, values in _warninglist_values(client, args.items, args.hex).items():
            change = admin_pb2.SetWarninglistEntries(
                list=args.name, type=TYPE_CODES[kind], values=values, remove=remove
            )
            resp = client.change(dry_run=args.dry_run, set_warninglist_entries=change)
            results.append({"type": kind, "seq": resp.seq, "summary": resp.summary})
        _emit(args, results, "\n".join(str(r["summary"]) for r in results))

    return handler


def warninglist_list(client: AdminClient, args: argparse.Namespace) -> None:
    lists = client.warninglists()
    rows = [
        (w.name, w.mode, ", ".join(f"{c.key}={c.value}" for c in w.entries_by_type) or "-", w.description or "-")
        for w in lists
    ]
    _emit(
        args,
        [MessageToDict(w, preserving_proto_field_name=True) for w in lists],
        _table(rows, ("WARNINGLIST", "MODE", "VALUES", "DESCRIPTION")),
    )


def _quarantine(quarantined: bool) -> Handler:
    def handler(client: AdminClient, args: argparse.Namespace) -> None:
        change = admin_pb2.SetQuarantine(signal_id=args.signal_id, quarantined=quarantined, reason=args.reason)
        _change(client, args, set_quarantine=change)

    return handler


def quarantine_list(client: AdminClient, args: argparse.Namespace) -> None:
    from client_sdk import ExchangeClient

    with ExchangeClient.connect(client.credentials.address, credentials=client.credentials) as operator:
        held = operator.quarantined()
    rows = [(q.signal_id, q.submitter, q.reason, dt.datetime.fromtimestamp(q.since, dt.UTC), q.seq) for q in held]
    _emit(
        args,
        [{"signal_id": q.signal_id, "submitter": q.submitter, "reason": q.reason, "since": q.since} for q in held],
        _table(rows, ("SIGNAL", "SUBMITTER", "REASON", "SINCE", "EVENT")),
    )


def redress_pending(client: AdminClient, args: argparse.Namespace) -> None:
    import time

    from client_sdk import ExchangeClient

    with ExchangeClient.connect(client.credentials.address, credentials=client.credentials) as operator:
        pending = operator.redress(pending_only=True)
    now = int(time.time())
    rows = [(r.member, r.signal_id, r.received_via, _age(now - r.retracted_at)) for r in pending]
    _emit(
        args,
        [
            {"member": r.member, "signal_id": r.signal_id, "via": r.received_via, "age_seconds": now - r.retracted_at}
            for r in pending
        ],
        _table(rows, ("MEMBER", "SIGNAL", "RECEIVED_BY", "WAITING")) if rows else "no acknowledgement pending",
    )


def _age(seconds: int) -> str:
    seconds = max(0, seconds)
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def report(client: AdminClient, args: argparse.Namespace) -> None:
    from client_sdk.audit import report as reports
    from exchange.cli.audit import HTML_NOTE_END, HTML_NOTE_START

    note = client.report(args.period)
    op = client.credentials
    opened = reports.open_report(note, op.log_public_key, op.log_key_name, op.log_origin)
    if args.html:
        rows = "\n".join(
            f"<tr><td>{html.escape(name)}</td><td>{html.escape(str(value))}</td></tr>"
            for name, value in reports.flatten(opened.numbers)
        )
        out = (
            f'<!doctype html>\n<html><head><meta charset="utf-8"><title>Transparency report {opened.period}</title>'
            f"</head><body>\n<h1>Transparency report {opened.period}</h1>\n<p>Counts from 1 to 9 are shown as"
            f" &lt; 10. Anchored to the first {opened.checkpoint.size} entries of the signature log; check it with"
            f" <code>sigx audit report FILE</code>.</p>\n<table>\n<tr><th>number</th><th>value</th></tr>\n{rows}\n"
            f"</table>\n<h2>Signed report</h2>\n{HTML_NOTE_START}{html.escape(note)}{HTML_NOTE_END}\n</body></html>\n"
        )
    elif args.json:
        out = (
            json.dumps(
                {
                    "period": opened.period,
                    "start": opened.start,
                    "end": opened.end,
                    "numbers": opened.numbers,
                    "report": note,
                },
                indent=2,
            )
            + "\n"
        )
    else:
        out = note
    if args.out:
        Path(args.out).write_text(out, encoding="utf-8")
        print(f"report {opened.period} written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(out)


def retention_show(client: AdminClient, args: argparse.Namespace) -> None:
    cats = client.categories()
    _emit(
        args,
        {c.name: c.retention_days for c in cats},
        _table([(c.name, c.retention_days) for c in cats], ("CATEGORY", "RETENTION_DAYS")),
    )


def retention_set(client: AdminClient, args: argparse.Namespace) -> None:
    _change(client, args, set_category=admin_pb2.SetCategory(name=args.category, retention_days=args.days))


def retention_run(client: AdminClient, args: argparse.Namespace) -> None:
    purged = client.run_retention()
    _emit(args, {"purged": purged}, f"purged {purged} expired signal(s)")


def stats(client: AdminClient, args: argparse.Namespace) -> None:
    s = client.stats()
    data = MessageToDict(s, preserving_proto_field_name=True)
    parts = [f"active signals: {s.active_signals}"]
    for field, title in (
        ("signals_by_category", "signals by category"),
        ("signals_by_type", "signals by type"),
        ("signals_by_member", "signals by member"),
        ("events_by_kind", "events by kind"),
        ("feedback_by_verdict", "feedback by verdict"),
        ("submits_by_day", "submits by day"),
        ("lookups_by_member", f"look-ups by member ({s.counts_scope})"),
        ("quota_denials_by_member", f"quota denials by member ({s.counts_scope})"),
        ("evaluations_by_member", f"OPRF evaluations by member ({s.counts_scope})"),
        ("bulk_evaluations_by_member", f"bulk OPRF evaluations by member, for match indexes ({s.counts_scope})"),
    ):
        counts = getattr(s, field)
        parts.append(f"\n{title}:\n" + (_table([(c.key, c.value) for c in counts], ("", "")) if counts else "  -"))
    for field, title in (
        ("submits_by_day_category", "submits by day and category"),
        ("feedback_by_category", "feedback by category and verdict"),
        ("quota_used_today", "daily quotas used today"),
    ):
        pairs = getattr(s, field)
        rows = [(c.key, c.sub, c.value) for c in pairs]
        parts.append(f"\n{title}:\n" + (_table(rows, ("", "", "")) if rows else "  -"))
    active = [
        (c.key, f"{dt.datetime.fromtimestamp(c.value, dt.UTC):%Y-%m-%d %H:%M:%S} UTC")
        for c in s.last_activity_by_member
    ]
    parts.append("\nlast activity by member:\n" + (_table(active, ("", "")) if active else "  -"))
    _emit(args, data, "\n".join(parts))


# -- storage ------------------------------------------------------------------------


def migrate(args: argparse.Namespace) -> int:
    """``sigx admin migrate``: copy a stopped SQLite exchange into an empty PostgreSQL database, then verify it."""
    from exchange.datadir.paths import DataDir

    server_modules(args.to)  # UsageError naming the extra to install when the server or the driver is missing
    from exchange.store.pg_migrate import migrate_from_sqlite

    if not args.to.startswith(("postgresql://", "postgres://")):
        raise UsageError("--to: expected a postgresql:// URL")
    source = DataDir(Path(args.data_dir)).database
    if not source.exists():
        raise UsageError(f"no SQLite database at {source}")
    print(f"migrating {source} (stop its exchange first) to PostgreSQL", file=sys.stderr, flush=True)
    try:
        counts = migrate_from_sqlite(source, args.to, lambda line: print(line, file=sys.stderr, flush=True))
    except RuntimeError as exc:
        raise UsageError(f"migration failed verification: {exc}") from None
    _emit(
        args,
        {"tables": counts, "verified": True},
        _table(sorted(counts.items()), ("TABLE", "ROWS"))
        + f"\n\nmigrated and verified; start the exchange with: sigx serve --data-dir {args.data_dir} --database URL",
    )
    return 0


# -- parser -------------------------------------------------------------------------


def add_admin_parser(sub: Any, run: Callable[[Handler, argparse.Namespace], int]) -> None:
    """Register ``sigx admin …`` under the top-level subparsers."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--as", dest="as_", required=True, metavar="CREDS", help="operator credentials directory")
    common.add_argument("--server", default=None, help="exchange address (default: the one in member.json)")
    common.add_argument("--json", action="store_true", help="machine-readable output")
    admin = sub.add_parser("admin", help="operator commands", description="Operator commands (operator role).")
    topics = admin.add_subparsers(dest="topic", required=True, metavar="TOPIC")

    def leaf(
        parent: Any, name: str, handler: Handler, help_text: str, dry_run: bool = False
    ) -> argparse.ArgumentParser:
        p = parent.add_parser(name, parents=[common], help=help_text, description=help_text)
        if dry_run:
            p.add_argument("--dry-run", action="store_true", help="validate and describe, change nothing")
        p.set_defaults(handler=lambda args: run(handler, args))
        return p

    member = topics.add_parser("member", help="members").add_subparsers(dest="action", required=True, metavar="ACTION")
    p = leaf(member, "add", member_add, "add a member and write its credentials directory")
    p.add_argument("name", metavar="NAME", help="the member id: lower-case letters, digits, . _ - (at most 64)")
    p.add_argument(
        "--role", choices=["member", "operator", "auditor"], default="member", help="what it may do (default member)"
    )
    p.add_argument("--display-name", default=None, metavar="TEXT", help="a readable name (default: NAME)")
    p.add_argument(
        "--kind",
        default=None,
        metavar="KIND",
        help="what the member is: platform (default for members), payment_provider, ngo, hotline, government, …"
        " (the charter's kinds; its rules follow the kind)",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="where to write the credentials directory")
    leaf(member, "list", member_list, "list members")
    leaf(member, "show", member_show, "a member's status, groups, keys and effective policy").add_argument(
        "name", metavar="NAME", help="the member id"
    )
    p = leaf(
        member,
        "renew-cert",
        member_renew_cert,
        "new TLS client key and certificate into a member's credentials directory",
        dry_run=True,
    )
    p.add_argument("name", metavar="NAME", help="the member id")
    p.add_argument("--credentials", required=True, metavar="DIR", help="the member's credentials directory")
    p.add_argument(
        "--revoke-old", action="store_true", help="refuse every earlier certificate of the member (a lost key)"
    )
    p = leaf(member, "set-kind", member_set_kind, "change a member's kind (a logged change)", dry_run=True)
    p.add_argument("name", metavar="NAME", help="the member id")
    p.add_argument("kind", metavar="KIND", help="one of the charter's kinds (sigx admin charter show)")
    p.add_argument("--reason", default="", metavar="TEXT", help="why (kept in the signed log entry; no personal data)")
    for action, status in (("suspend", "suspended"), ("reinstate", "active"), ("remove", "removed")):
        p = leaf(member, action, _status(status), f"{action} a member", dry_run=True)
        p.add_argument("name", metavar="NAME", help="the member id")
        p.add_argument(
            "--reason", default="", metavar="TEXT", help="why (kept in the signed log entry; no personal data)"
        )

    key = topics.add_parser("key", help="signing keys").add_subparsers(dest="action", required=True, metavar="ACTION")
    leaf(key, "list", key_list, "list signing keys").add_argument(
        "member", nargs="?", metavar="MEMBER", help="only this member's keys (default: every member)"
    )
    p = leaf(key, "register", key_register, "register a member's Ed25519 public key", dry_run=True)
    p.add_argument("member", metavar="MEMBER", help="the member id")
    p.add_argument("public_key", metavar="PUBLIC_KEY", help="PEM file or 64 hex digits")
    p = leaf(key, "rotate", key_rotate, "new signing key into a credentials directory; the old key is retired")
    p.add_argument("member", metavar="MEMBER", help="the member id")
    p.add_argument("--credentials", required=True, metavar="DIR", help="the member's credentials directory")
    p = leaf(key, "revoke", key_revoke, "revoke a key: no new event verifies with it", dry_run=True)
    p.add_argument("key_id", metavar="KEY_ID", help="the key id (sigx admin key list)")
    p.add_argument("--reason", default="", metavar="TEXT", help="why (kept in the signed log entry)")

    group = topics.add_parser("group", help="groups (audiences)").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    leaf(group, "create", group_create, "create a group", dry_run=True).add_argument(
        "group", metavar="GROUP", help="the group name: lower-case letters, digits, . _ -"
    )
    for action, flag in (("add", True), ("remove", False)):
        p = leaf(
            group, action, _membership(flag), f"{action} a member {'to' if flag else 'from'} a group", dry_run=True
        )
        p.add_argument("group", metavar="GROUP", help="the group name")
        p.add_argument("member", metavar="MEMBER", help="the member id")
    leaf(group, "list", group_list, "list groups and their members")

    policy = topics.add_parser("policy", help="access policy").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = leaf(policy, "apply", policy_apply, "show the diff against the policy in force, then apply it", dry_run=True)
    p.add_argument("file", metavar="FILE", help="the policy, TOML (see deploy/examples/policy.toml)")
    p.add_argument("--yes", action="store_true", help="apply without asking")
    leaf(policy, "show", policy_show, "print the policy in force")

    charter = topics.add_parser("charter", help="rules above every member policy, by member kind").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = leaf(charter, "apply", charter_apply, "put a charter (JSON or YAML) in force; its hash is logged", dry_run=True)
    p.add_argument("file", metavar="FILE", help="the charter, JSON or YAML (see exchange/safeguards/charter.py)")
    leaf(charter, "show", charter_show, "print the charter in force")

    warn = topics.add_parser("warninglist", help="values that must never become signals").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = leaf(warn, "create", warninglist_create, "create a warninglist", dry_run=True)
    p.add_argument("name", metavar="NAME", help="the list's name: lower-case letters, digits, . _ -")
    p.add_argument(
        "--mode",
        required=True,
        choices=["block", "inform"],
        help="block: submissions of its values are refused; inform: accepted and flagged to every consumer",
    )
    p.add_argument("--description", default="", metavar="TEXT", help="what the list holds (no personal data)")
    for action, flag in (("add", False), ("remove", True)):
        p = leaf(
            warn,
            action,
            _warninglist_entries(flag),
            f"{action} values {'from' if flag else 'to'} a warninglist (one signed change per type)",
            dry_run=True,
        )
        p.add_argument("name", metavar="NAME", help="the warninglist")
        p.add_argument(
            "items",
            nargs="+",
            metavar="TYPE:VALUE",
            help="identifiers (pseudonymised through the exchange, like a look-up) or media hashes",
        )
        p.add_argument(
            "--hex", action="store_true", help="each VALUE is the stored value in hex: a pseudonym or a media hash"
        )
    leaf(warn, "list", warninglist_list, "warninglists with their mode and number of values")

    quarantine = topics.add_parser("quarantine", help="signals that match nothing until released").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    for action, flag in (("add", True), ("release", False)):
        text = "quarantine a signal: it stops matching" if flag else "release a quarantined signal"
        p = leaf(quarantine, action, _quarantine(flag), text + " (a logged change)", dry_run=True)
        p.add_argument("signal_id", type=int, metavar="SIGNAL_ID", help="the signal's id")
        p.add_argument("--reason", required=True, metavar="TEXT", help="why (kept in the signed log entry)")
    leaf(quarantine, "list", quarantine_list, "every quarantined signal, why and since when")

    redress = topics.add_parser("redress", help="acknowledgements of retractions for redress").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    leaf(redress, "pending", redress_pending, "pending acknowledgements per member, with how long each has waited")

    p = leaf(topics, "report", report, "the transparency report of a period, signed with the log key")
    p.add_argument("--period", required=True, metavar="PERIOD", help="YEAR-QN (e.g. 2026-Q4) or YEAR")
    p.add_argument("--html", action="store_true", help="an HTML page (the signed report inside)")
    p.add_argument("--out", default=None, metavar="FILE", help="write it to FILE (default: standard output)")

    retention = topics.add_parser("retention", help="retention per category").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    leaf(retention, "show", retention_show, "maximum lifetime per category")
    p = leaf(
        retention, "set", retention_set, "set a category's maximum lifetime (adds the category if new)", dry_run=True
    )
    p.add_argument("category", metavar="CATEGORY", help="e.g. sextortion.financial (added if it is new)")
    p.add_argument("days", type=int, metavar="DAYS", help="the longest a signal of this category lives, 1..3650")
    leaf(retention, "run", retention_run, "purge expired signals now")

    leaf(topics, "stats", stats, "signals, events, feedback, look-ups, OPRF use and quota denials")

    text = "copy a stopped SQLite exchange into an empty PostgreSQL database and verify it (no --as: offline)"
    p = topics.add_parser("migrate", help=text, description=text)
    p.add_argument("--data-dir", required=True, metavar="DIR", help="data directory of the stopped exchange")
    p.add_argument("--to", required=True, metavar="URL", help="postgresql://… of an empty database")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=migrate)
