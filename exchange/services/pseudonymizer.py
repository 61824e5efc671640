"""VOPRF evaluation for members: batched, quota-charged, one proof per batch."""

from __future__ import annotations

from collections.abc import Sequence

from exchange.config import Settings
from exchange.errors import BatchTooLargeError
from exchange.identity import Caller
from exchange.pki.oprf_keyring import OprfKeyring
from exchange.policy.engine import PolicyEngine


class PseudonymizerService:
    """Evaluates blinded elements under the exchange's OPRF key."""

    def __init__(self, keyring: OprfKeyring, settings: Settings, policy: PolicyEngine) -> None:
        self.keyring = keyring
        self._settings = settings
        self._policy = policy

    def evaluate(
        self, caller: Caller, blinded: Sequence[bytes], epoch: int, bulk: bool = False
    ) -> tuple[list[bytes], bytes, int]:
        """(evaluated elements, batch proof, epoch); charges the caller's evaluations_per_day quota, or with
        ``bulk`` (a member indexing its own user base) its oprf_bulk_per_day quota. Raises QuotaExceededError."""
        if len(blinded) > self._settings.max_batch:
            raise BatchTooLargeError(f"{len(blinded)} elements exceed the maximum of {self._settings.max_batch}")
        self._policy.charge(caller, "oprf_bulk_per_day" if bulk else "evaluations_per_day", len(blinded))
        return self.keyring.evaluate(blinded, epoch)
