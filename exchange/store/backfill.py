"""What schema migrations recompute from the signature log itself (shared by both stores' migrations)."""

from __future__ import annotations

from collections.abc import Iterable

from client_sdk.envelope import EnvelopeError, open_envelope
from client_sdk.keys import key_id_for
from client_sdk.wire import admin_pb2


def key_log_positions(admin_events: Iterable[tuple[int, bytes | None]]) -> dict[str, tuple[int, int]]:
    """For each signing key, the seqs of the admin events that registered it and that ended its window
    (retired or revoked; 0: still open), replayed from ``(seq, envelope)`` of the admin events in order."""
    positions: dict[str, tuple[int, int]] = {}
    for seq, envelope in admin_events:
        if not envelope:
            continue
        try:
            body = admin_pb2.AdminChange.FromString(open_envelope(envelope).payload)
        except (EnvelopeError, ValueError):
            continue
        kind = body.WhichOneof("change")
        if kind == "add_member":
            positions[key_id_for(body.add_member.signing_public_key)] = (seq, 0)
        elif kind == "register_key":
            positions[key_id_for(body.register_key.public_key)] = (seq, 0)
        elif kind in ("retire_key", "revoke_key"):
            key_id = getattr(body, kind).key_id
            if key_id in positions and not positions[key_id][1]:
                positions[key_id] = (positions[key_id][0], seq)
    return positions
