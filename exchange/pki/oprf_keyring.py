"""The exchange's VOPRF keys, one per epoch, kept in a file apart from the database.

File format: one line per epoch, ``<epoch> <hex secret scalar>``; the highest
epoch is current. Older epochs stay evaluable until their signals expire.
The file must be mode 0600 (checked on load).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from client_sdk import oprf
from client_sdk.errors import CredentialsError, OprfError
from client_sdk.secure_files import check_private_file, write_private_file
from exchange.errors import ConfigError, InvalidArgumentError, NotFoundError


class OprfKeyring:
    """Secret keys by epoch, with one VOPRF server per epoch."""

    def __init__(self, secrets: dict[int, bytes]) -> None:
        if not secrets:
            raise ConfigError("OPRF keyring is empty")
        self._servers = {epoch: oprf.OprfServer(oprf.MODE_VOPRF, sk) for epoch, sk in secrets.items()}
        self.current_epoch = max(secrets)

    @classmethod
    def create(cls, path: Path) -> OprfKeyring:
        """Generate a first key (epoch 1) and write it with mode 0600."""
        sk, _ = oprf.generate_key_pair()
        write_private_file(path, f"1 {sk.hex()}\n".encode())
        return cls({1: sk})

    @classmethod
    def load(cls, path: Path) -> OprfKeyring:
        """Read the keyring; raises ConfigError naming the file and line on any problem."""
        try:
            check_private_file(path)
        except CredentialsError as exc:
            raise ConfigError(f"OPRF key: {exc}") from None
        secrets: dict[int, bytes] = {}
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                epoch_text, hex_sk = line.split()
                secrets[int(epoch_text)] = bytes.fromhex(hex_sk)
            except ValueError:
                raise ConfigError(f"{path}:{number}: expected '<epoch> <hex key>'") from None
        try:
            return cls(secrets)
        except OprfError as exc:
            raise ConfigError(f"{path}: invalid key: {exc}") from None

    def has_epoch(self, epoch: int) -> bool:
        return epoch in self._servers

    def public_key(self, epoch: int | None = None) -> bytes:
        return self._server(epoch or self.current_epoch).public_key

    def _server(self, epoch: int) -> oprf.OprfServer:
        server = self._servers.get(epoch)
        if server is None:
            raise NotFoundError(f"no pseudonymiser key for epoch {epoch}", reason="unknown_epoch")
        return server

    def evaluate(self, blinded: Sequence[bytes], epoch: int = 0) -> tuple[list[bytes], bytes, int]:
        """Evaluate blinded elements with one batch proof; raises InvalidArgumentError on bad elements."""
        epoch = epoch or self.current_epoch
        server = self._server(epoch)
        for i, element in enumerate(blinded):
            if len(element) != oprf.ELEMENT_BYTES:
                raise InvalidArgumentError(
                    f"blinded element {i} must be {oprf.ELEMENT_BYTES} bytes", reason="bad_element"
                )
        try:
            evaluated, proof = server.blind_evaluate(blinded)
        except OprfError as exc:
            raise InvalidArgumentError(f"invalid blinded element: {exc}", reason="bad_element") from None
        return evaluated, proof or b"", epoch
