"""Pseudonymisation: identifiers to 32-byte pseudonyms through the exchange's VOPRF, raw values kept here."""

from __future__ import annotations

from collections.abc import Sequence

from client_sdk.client.connection import BATCH, Connection
from client_sdk.errors import (
    InvalidIdentifierError,
    ProofError,
)
from client_sdk.models import (
    Identifier,
)
from client_sdk.wire import (
    pseudonymizer_pb2,
)


def oprf_input(type_name: str, normalised: str) -> bytes:
    """The OPRF input for an identifier: ``type || 0x00 || normalised`` (UTF-8)."""
    return type_name.encode() + b"\x00" + normalised.encode("utf-8")


class Pseudonymising(Connection):
    def pseudonymise(self, identifiers: Sequence[Identifier]) -> list[bytes]:
        """32-byte pseudonyms via the exchange's VOPRF; the raw values never leave this process.

        Raises InvalidIdentifierError (bad input, nothing sent), ProofError (the exchange's
        proof does not verify against the key pinned in the credentials).
        """
        inputs = []
        for ident in identifiers:
            if ident.is_media:
                raise InvalidIdentifierError(ident.type, "media hashes are not pseudonymised")
            inputs.append(oprf_input(ident.type, ident.normalised()))
        out: list[bytes] = []
        for start in range(0, len(inputs), BATCH):
            chunk = inputs[start : start + BATCH]
            blinds, blinded = self._oprf_client.blind(chunk)
            evaluated, proof = self.evaluate(blinded)
            out.extend(o[:32] for o in self._oprf_client.finalize(chunk, blinds, blinded, evaluated, proof))
        return out

    def evaluate(self, blinded: Sequence[bytes], *, bulk: bool = False) -> tuple[list[bytes], bytes]:
        """One Evaluate call on already-blinded elements: ``(evaluated elements, batch proof)``, unchecked
        (the caller finalizes and verifies, as ``pseudonymise`` does). ``bulk`` charges the member's
        oprf_bulk_per_day quota instead of evaluations_per_day. Raises QuotaExceededError, ProofError."""
        epoch = self.credentials.oprf_epoch
        request = pseudonymizer_pb2.EvaluateRequest(blinded_elements=blinded, epoch=epoch, bulk=bulk)
        resp = self._call(self._oprf.Evaluate, request)
        if resp.epoch != epoch or len(resp.evaluated_elements) != len(blinded):
            raise ProofError("the exchange answered for another key epoch or batch size")
        return list(resp.evaluated_elements), resp.proof

    def _values(self, identifiers: Sequence[Identifier]) -> list[bytes]:
        """Wire values: pseudonyms for identifiers, raw bytes for media hashes."""
        values: list[bytes | None] = [None] * len(identifiers)
        plain = [i for i, ident in enumerate(identifiers) if not ident.is_media]
        for i, ident in enumerate(identifiers):
            if ident.is_media:
                values[i] = bytes.fromhex(ident.normalised())
        for i, value in zip(plain, self.pseudonymise([identifiers[i] for i in plain]), strict=True):
            values[i] = value
        return [v for v in values if v is not None]
