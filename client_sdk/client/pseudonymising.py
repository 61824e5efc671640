"""Pseudonymisation: identifiers to 32-byte pseudonyms through the exchange's VOPRF, raw values kept here."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass

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
        for ident in identifiers:
            if ident.is_media:
                raise InvalidIdentifierError(ident.type, "media hashes are not pseudonymised")
        return self._pseudonymise_inputs([oprf_input(i.type, i.normalised()) for i in identifiers])

    def _pseudonymise_inputs(self, inputs: Sequence[bytes]) -> list[bytes]:
        """Pseudonyms of OPRF inputs (``oprf_input``), one Evaluate call per BATCH."""
        return self._finish_rounds(self._start_rounds(inputs))

    def _start_rounds(self, inputs: Sequence[bytes], calls: Executor | None = None) -> list[_Round]:
        """Blind ``inputs`` (BATCH at a time) and make the Evaluate calls: on ``calls``' threads, so that
        the caller can work meanwhile, or here and now without one."""
        rounds = []
        for start in range(0, len(inputs), BATCH):
            chunk = list(inputs[start : start + BATCH])
            blinds, blinded = self._oprf_client.blind(chunk)
            if calls is None:
                answer: Future[tuple[list[bytes], bytes]] = Future()
                answer.set_result(self.evaluate(blinded))
            else:
                answer = calls.submit(self.evaluate, blinded)
            rounds.append(_Round(chunk, blinds, blinded, answer))
        return rounds

    def _finish_rounds(self, rounds: Sequence[_Round]) -> list[bytes]:
        """Wait for each round's evaluation, check its proof and unblind: the pseudonyms, in order."""
        out: list[bytes] = []
        for r in rounds:
            evaluated, proof = r.answer.result()
            out.extend(o[:32] for o in self._oprf_client.finalize(r.inputs, r.blinds, r.blinded, evaluated, proof))
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

    def _values(self, identifiers: Sequence[Identifier], normalised: Sequence[str] | None = None) -> list[bytes]:
        """Wire values: pseudonyms for identifiers, raw bytes for media hashes. ``normalised``, when given,
        holds each identifier's canonical form already computed (it is not computed again)."""
        return self._start_values(identifiers, normalised).finish(self)

    def _start_values(
        self, identifiers: Sequence[Identifier], normalised: Sequence[str] | None = None, calls: Executor | None = None
    ) -> _Values:
        """:meth:`_values` begun: media values read, identifiers blinded, Evaluate calls made (see
        :meth:`_start_rounds`); ``.finish(self)`` gives the values."""
        forms = [i.normalised() for i in identifiers] if normalised is None else normalised
        values: list[bytes | None] = [None] * len(identifiers)
        plain: list[int] = []
        for i, (ident, form) in enumerate(zip(identifiers, forms, strict=True)):
            if ident.is_media:
                values[i] = bytes.fromhex(form)
            else:
                plain.append(i)
        rounds = self._start_rounds([oprf_input(identifiers[i].type, forms[i]) for i in plain], calls)
        return _Values(values, plain, rounds)


@dataclass
class _Round:
    """One Evaluate call's worth of blinded inputs, and the call's answer to come."""

    inputs: list[bytes]
    blinds: list[bytes]
    blinded: list[bytes]
    answer: Future[tuple[list[bytes], bytes]]


@dataclass
class _Values:
    """Wire values under way: the media ones known, the pseudonyms awaiting their rounds."""

    values: list[bytes | None]
    plain: list[int]
    rounds: list[_Round]

    def finish(self, client: Pseudonymising) -> list[bytes]:
        for i, value in zip(self.plain, client._finish_rounds(self.rounds), strict=True):
            self.values[i] = value
        return [v for v in self.values if v is not None]
