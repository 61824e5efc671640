"""RFC 9497 oblivious PRFs for the ciphersuite ristretto255-SHA512.

Implements mode 0 (OPRF) and mode 1 (VOPRF, with one batched DLEQ proof per
request) on libsodium's ristretto255 primitives, reached through ``pysodium``'s
ctypes handle. Scalars and elements travel as their 32-byte encodings.

Large batches split their per-element work (blinding, ``k * B_i``, the composite
sums ``d_i * C_i`` and unblinding) over a small thread pool: libsodium calls
release the GIL. ``parallel=False`` keeps a batch on the calling thread, for
callers that run several batches at once on their own threads.

What a client pays per element is, beyond the RFC's hash-to-group and four
scalar multiplications, two point additions and a few hashes: blinds are
inverted together (Montgomery's trick, one libsodium inversion per batch),
the composite sums are accumulated in place, and elements are checked by the
scalar multiplications that use them rather than decoded once more.
"""

from __future__ import annotations

import ctypes
import hashlib
import hmac
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

import pysodium

from client_sdk.errors import OprfError, ProofError

SUITE = "ristretto255-SHA512"
MODE_OPRF = 0
MODE_VOPRF = 1
ELEMENT_BYTES = 32
SCALAR_BYTES = 32
OUTPUT_BYTES = 64
SEED_BYTES = 32
#: Batches at least this long are split across the worker threads.
PARALLEL_THRESHOLD = 64

_T = TypeVar("_T")
_ORDER = 2**252 + 27742317777372353535851937790883648493
_IDENTITY = bytes(ELEMENT_BYTES)
_ZERO_SCALAR = bytes(SCALAR_BYTES)
_LEN_ELEMENT = ELEMENT_BYTES.to_bytes(2, "big")
_MAX_LEN = 0xFFFF
_WORKERS = 2
_ZPAD = hashlib.sha512(bytes(128))  # SHA-512 block of zeros, copied per use

_lib = pysodium.sodium
_c_mul = _lib.crypto_scalarmult_ristretto255
_c_mul_base = _lib.crypto_scalarmult_ristretto255_base
_c_add = _lib.crypto_core_ristretto255_add
_c_from_hash = _lib.crypto_core_ristretto255_from_hash
_c_is_valid = _lib.crypto_core_ristretto255_is_valid_point
_c_reduce = _lib.crypto_core_ristretto255_scalar_reduce
_c_smul = _lib.crypto_core_ristretto255_scalar_mul
_c_ssub = _lib.crypto_core_ristretto255_scalar_sub
_c_invert = _lib.crypto_core_ristretto255_scalar_invert
_c_random = _lib.crypto_core_ristretto255_scalar_random

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _buf() -> ctypes.Array[ctypes.c_char]:
    return ctypes.create_string_buffer(32)


def _mul(scalar: bytes, element: bytes) -> bytes | None:
    """scalar * element; None if the element is invalid or the result is the identity."""
    out = _buf()
    return out.raw if _c_mul(out, scalar, element) == 0 else None


def _mul_base(scalar: bytes) -> bytes:
    out = _buf()
    return out.raw if _c_mul_base(out, scalar) == 0 else _IDENTITY


def _add(p: bytes, q: bytes) -> bytes:
    out = _buf()
    if _c_add(out, p, q) != 0:
        raise OprfError("invalid ristretto255 element")
    return out.raw


def _scalar_op(fn: Callable[..., object], *args: bytes) -> bytes:
    """Call a libsodium scalar function returning void (its return value is meaningless)."""
    out = _buf()
    fn(out, *args)
    return out.raw


def _random_scalar() -> bytes:
    out = _buf()
    _c_random(out)
    return out.raw


def _as_bytes(value: object, what: str, size: int | None = None) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise OprfError(f"{what} must be bytes")
    data = bytes(value)
    if size is not None and len(data) != size:
        raise OprfError(f"{what} must be {size} bytes, got {len(data)}")
    if len(data) > _MAX_LEN:
        raise OprfError(f"{what} is longer than {_MAX_LEN} bytes")
    return data


def _check_scalar(value: object, what: str) -> bytes:
    """A canonical, non-zero scalar (private key, blind, proof nonce)."""
    data = _as_bytes(value, what, SCALAR_BYTES)
    if not 0 < int.from_bytes(data, "little") < _ORDER:
        raise OprfError(f"{what} is not a canonical non-zero scalar")
    return data


def _check_element(value: object, what: str) -> bytes:
    """DeserializeElement: a canonical ristretto255 encoding other than the identity."""
    data = _as_bytes(value, what, ELEMENT_BYTES)
    if data == _IDENTITY or _c_is_valid(data) != 1:
        raise OprfError(f"{what} is not a valid ristretto255 element")
    return data


def _finalize_hash(input: bytes, element: bytes) -> bytes:
    return hashlib.sha512(len(input).to_bytes(2, "big") + input + _LEN_ELEMENT + element + b"Finalize").digest()


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="oprf")
        return _pool


def _chunked(fn: Callable[[int, int], _T], n: int, parallel: bool = True) -> list[_T]:
    """Run ``fn(lo, hi)`` over ``range(n)`` in contiguous chunks, in parallel when large."""
    if not parallel or n < PARALLEL_THRESHOLD or _WORKERS < 2:
        return [fn(0, n)]
    step = -(-n // _WORKERS)
    bounds = [(lo, min(lo + step, n)) for lo in range(0, n, step)]
    futures = [_get_pool().submit(fn, lo, hi) for lo, hi in bounds[1:]]
    try:
        first = fn(*bounds[0])  # the calling thread takes the first chunk itself
    finally:
        wait(futures)
    return [first, *(f.result() for f in futures)]


def _batch_invert(scalars: Sequence[bytes]) -> list[bytes]:
    """The inverses of non-zero scalars with one libsodium inversion (Montgomery's trick), constant-time."""
    n = len(scalars)
    if n == 0:
        return []
    prefix = [scalars[0]]
    acc = _buf()
    acc.raw = scalars[0]
    for i in range(1, n):
        _c_smul(acc, acc, scalars[i])  # libsodium reads both operands before writing: aliasing is safe
        prefix.append(acc.raw)
    inv = _buf()
    if _c_invert(inv, acc) != 0:
        raise OprfError("scalar is not invertible")
    out = [b""] * n
    for i in range(n - 1, 0, -1):
        tmp = _buf()
        _c_smul(tmp, inv, prefix[i - 1])
        out[i] = tmp.raw
        _c_smul(inv, inv, scalars[i])
    out[0] = inv.raw
    return out


def _length_checked(values: Sequence[object], what: str) -> list[bytes]:
    """32-byte encodings, length-checked only: the scalar multiplications that use them reject bad points."""
    out = []
    for value in values:
        if not isinstance(value, bytes):
            value = _as_bytes(value, what)
        if len(value) != ELEMENT_BYTES:
            raise OprfError(f"{what} must be {ELEMENT_BYTES} bytes, got {len(value)}")
        out.append(value)
    return out


class _Accumulator:
    """A running sum of ristretto255 points kept in one libsodium buffer (no bytes object per term)."""

    def __init__(self) -> None:
        self._sum = _buf()
        self._tmp = _buf()
        self._empty = True

    def add_product(self, scalar: bytes, element: bytes) -> bool:
        """sum += scalar * element; False (nothing added) if the element is invalid or the product the identity."""
        if self._empty:
            if _c_mul(self._sum, scalar, element) != 0:
                return False
            self._empty = False
            return True
        if _c_mul(self._tmp, scalar, element) != 0:
            return False
        _c_add(self._sum, self._sum, self._tmp)  # both operands are valid encodings: cannot fail
        return True

    def value(self) -> bytes:
        return _IDENTITY if self._empty else self._sum.raw


def _sum(points: Sequence[bytes | None]) -> bytes:
    total: bytes | None = None
    for point in points:
        if point is not None and point != _IDENTITY:
            total = point if total is None else _add(total, point)
    return _IDENTITY if total is None else total


class _Suite:
    """Per-mode constants: context string and the RFC 9380 DST_prime values."""

    def __init__(self, mode: int) -> None:
        self.mode = mode
        context = b"OPRFV1-" + bytes([mode]) + b"-" + SUITE.encode()
        self.group_dst = self._dst_prime(b"HashToGroup-" + context)
        self.scalar_dst = self._dst_prime(b"HashToScalar-" + context)
        self.derive_dst = self._dst_prime(b"DeriveKeyPair" + context)
        seed_dst = b"Seed-" + context
        self.seed_suffix = len(seed_dst).to_bytes(2, "big") + seed_dst

    @staticmethod
    def _dst_prime(dst: bytes) -> bytes:
        return dst + bytes([len(dst)])

    @staticmethod
    def _expand_64(msg: bytes, dst_prime: bytes) -> bytes:
        """expand_message_xmd (RFC 9380, SHA-512) for len_in_bytes = 64, so ell = 1."""
        h = _ZPAD.copy()
        h.update(msg)
        h.update(b"\x00\x40\x00" + dst_prime)
        return hashlib.sha512(h.digest() + b"\x01" + dst_prime).digest()

    def expand_group(self, msg: bytes) -> bytes:
        """The 64 uniform bytes HashToGroup maps to a point."""
        return self._expand_64(msg, self.group_dst)

    def hash_to_group(self, msg: bytes) -> bytes:
        """HashToGroup; the identity (InvalidInputError in the RFC) raises OprfError."""
        out = _buf()
        _c_from_hash(out, self.expand_group(msg))
        if out.raw == _IDENTITY:
            raise OprfError("input hashes to the identity element")
        return out.raw

    def hash_to_scalar(self, msg: bytes, dst_prime: bytes | None = None) -> bytes:
        """HashToScalar: 64 uniform bytes reduced mod the group order."""
        wide = self._expand_64(msg, dst_prime or self.scalar_dst)
        return _scalar_op(_c_reduce, wide)

    def composite_prefix(self, pk: bytes) -> bytes:
        """I2OSP(len(seed), 2) || seed, the seed being Hash(len || pk || len || "Seed-" ctx)."""
        seed = hashlib.sha512(_LEN_ELEMENT + pk + self.seed_suffix).digest()
        return len(seed).to_bytes(2, "big") + seed

    def composite_scalar(self, prefix: bytes, i: int, c: bytes, d: bytes) -> bytes:
        """d_i of ComputeComposites for the pair (C_i, D_i)."""
        transcript = b"".join((prefix, i.to_bytes(2, "big"), _LEN_ELEMENT, c, _LEN_ELEMENT, d, b"Composite"))
        return self.hash_to_scalar(transcript)

    def challenge(self, *elements: bytes) -> bytes:
        """The DLEQ challenge over (B, M, Z, t2, t3)."""
        return self.hash_to_scalar(b"".join(_LEN_ELEMENT + e for e in elements) + b"Challenge")


_SUITES = {mode: _Suite(mode) for mode in (MODE_OPRF, MODE_VOPRF)}


def _suite(mode: int) -> _Suite:
    try:
        return _SUITES[mode]
    except (KeyError, TypeError):
        raise OprfError(f"unsupported OPRF mode {mode!r} (only 0 and 1)") from None


def derive_key_pair(seed: bytes, info: bytes, mode: int) -> tuple[bytes, bytes]:
    """RFC 9497 DeriveKeyPair: ``(skS, pkS)`` from a 32-byte seed and public info."""
    suite = _suite(mode)
    seed = _as_bytes(seed, "seed", SEED_BYTES)
    info = _as_bytes(info, "info")
    derive_input = seed + len(info).to_bytes(2, "big") + info
    for counter in range(256):
        sk = suite.hash_to_scalar(derive_input + bytes([counter]), suite.derive_dst)
        if sk != _ZERO_SCALAR:
            return sk, _mul_base(sk)
    raise OprfError("DeriveKeyPair failed: no non-zero scalar after 256 attempts")


def generate_key_pair() -> tuple[bytes, bytes]:
    """A random private scalar and its public key ``sk * G``."""
    sk = _random_scalar()
    return sk, _mul_base(sk)


def public_key(sk: bytes) -> bytes:
    """The public key ``sk * G`` of a private scalar."""
    return _mul_base(_check_scalar(sk, "private key"))


class OprfClient:
    """Client side: blinds inputs and finalizes the server's evaluations."""

    def __init__(self, mode: int, server_public_key: bytes | None = None) -> None:
        self.mode = mode
        self._suite = _suite(mode)
        self.server_public_key: bytes | None = None
        if server_public_key is not None:
            self.server_public_key = _check_element(server_public_key, "server public key")
        elif mode == MODE_VOPRF:
            raise OprfError("VOPRF mode needs the server's public key")

    def blind(
        self, inputs: Sequence[bytes], blinds: Sequence[bytes] | None = None, *, parallel: bool = True
    ) -> tuple[list[bytes], list[bytes]]:
        """Blind each input: returns ``(blinds, blinded_elements)``; random blinds unless given.

        Raises OprfError for an input that is not bytes or hashes to the identity."""
        data = [_as_bytes(x, "input") for x in inputs]
        if blinds is None:
            scalars = [_random_scalar() for _ in data]
        elif len(blinds) != len(data):
            raise OprfError("need exactly one blind per input")
        else:
            scalars = [_check_scalar(b, "blind") for b in blinds]
        suite = self._suite

        def work(lo: int, hi: int) -> list[bytes]:
            point, out, blinded = _buf(), _buf(), []
            for i in range(lo, hi):
                _c_from_hash(point, suite.expand_group(data[i]))
                if _c_mul(out, scalars[i], point) != 0:  # the identity (RFC 9497's InvalidInputError)
                    raise OprfError("input hashes to the identity element")
                blinded.append(out.raw)
            return blinded

        return scalars, [e for part in _chunked(work, len(data), parallel) for e in part]

    def finalize(
        self,
        inputs: Sequence[bytes],
        blinds: Sequence[bytes],
        blinded_elements: Sequence[bytes],
        evaluated_elements: Sequence[bytes],
        proof: bytes | None = None,
        *,
        parallel: bool = True,
    ) -> list[bytes]:
        """Unblind the evaluations into 64-byte PRF outputs; mode 1 checks the proof first.

        Raises OprfError for malformed elements or blinds, ProofError when the proof does not verify."""
        n = len(inputs)
        if not len(blinds) == len(blinded_elements) == len(evaluated_elements) == n:
            raise OprfError("inputs, blinds and elements must have the same length")
        data = [_as_bytes(x, "input") for x in inputs]
        scalars = [_check_scalar(b, "blind") for b in blinds]
        evaluated = _length_checked(evaluated_elements, "evaluated element")
        if self.mode == MODE_VOPRF:
            self._verify(_length_checked(blinded_elements, "blinded element"), evaluated, proof, parallel)

        def unblind(lo: int, hi: int) -> list[bytes]:
            out, element = [], _buf()
            for i, inverse in zip(range(lo, hi), _batch_invert(scalars[lo:hi]), strict=True):
                if _c_mul(element, inverse, evaluated[i]) != 0:
                    raise OprfError(f"evaluated element {i} is not a valid ristretto255 element")
                out.append(_finalize_hash(data[i], element.raw))
            return out

        return [o for part in _chunked(unblind, n, parallel) for o in part]

    def _verify(self, blinded: list[bytes], evaluated: list[bytes], proof: bytes | None, parallel: bool) -> None:
        """VerifyProof(G, pkS, C, D, proof) with ComputeComposites; raises ProofError (OprfError for bad elements)."""
        pk = self.server_public_key
        if pk is None or not blinded:
            raise ProofError("VOPRF needs at least one element")
        if not isinstance(proof, (bytes, bytearray, memoryview)) or len(proof) != 2 * SCALAR_BYTES:
            raise ProofError("proof must be 64 bytes (c || s)")
        c, s = bytes(proof[:SCALAR_BYTES]), bytes(proof[SCALAR_BYTES:])
        if max(int.from_bytes(c, "little"), int.from_bytes(s, "little")) >= _ORDER:
            raise ProofError("proof scalars are not canonical")
        suite, prefix = self._suite, self._suite.composite_prefix(pk)

        def composites(lo: int, hi: int) -> tuple[bytes, bytes]:
            m, z = _Accumulator(), _Accumulator()
            for i in range(lo, hi):
                d = suite.composite_scalar(prefix, i, blinded[i], evaluated[i])
                if not m.add_product(d, blinded[i]):
                    raise OprfError(f"blinded element {i} is not a valid ristretto255 element")
                if not z.add_product(d, evaluated[i]):
                    raise OprfError(f"evaluated element {i} is not a valid ristretto255 element")
            return m.value(), z.value()

        parts = _chunked(composites, len(blinded), parallel)
        m, z = _sum([p[0] for p in parts]), _sum([p[1] for p in parts])
        t2 = _sum([_mul_base(s), _mul(c, pk)])
        t3 = _sum([_mul(s, m), _mul(c, z)])
        if not hmac.compare_digest(suite.challenge(pk, m, z, t2, t3), c):
            raise ProofError("OPRF proof does not verify against the server's public key")


class OprfServer:
    """Server side: evaluates blinded elements under its private key."""

    def __init__(self, mode: int, sk: bytes) -> None:
        self.mode = mode
        self._suite = _suite(mode)
        self._sk = _check_scalar(sk, "private key")
        self._pk = _mul_base(self._sk)

    @property
    def public_key(self) -> bytes:
        """The server's public key ``pkS = skS * G`` (what VOPRF clients verify against)."""
        return self._pk

    def blind_evaluate(
        self, blinded_elements: Sequence[bytes], proof_scalar: bytes | None = None
    ) -> tuple[list[bytes], bytes | None]:
        """Evaluate ``k * B_i``; in mode 1 also return a batch proof ``c || s`` (else None)."""
        blinded = [_as_bytes(b, "blinded element", ELEMENT_BYTES) for b in blinded_elements]
        n, k, suite = len(blinded), self._sk, self._suite
        verifiable = self.mode == MODE_VOPRF
        if verifiable and n == 0:
            raise OprfError("VOPRF needs at least one element")
        if n > _MAX_LEN:
            raise OprfError(f"batch larger than {_MAX_LEN}")
        prefix = suite.composite_prefix(self._pk) if verifiable else b""

        def evaluate(lo: int, hi: int) -> tuple[list[bytes], bytes]:
            out: list[bytes] = []
            m, element = _Accumulator(), _buf()
            for i in range(lo, hi):
                if _c_mul(element, k, blinded[i]) != 0:  # fails on bad encodings and the identity
                    raise OprfError(f"blinded element {i} is not a valid ristretto255 element")
                out.append(element.raw)
                if verifiable:
                    m.add_product(suite.composite_scalar(prefix, i, blinded[i], out[-1]), blinded[i])
            return out, m.value()

        parts = _chunked(evaluate, n)
        evaluated = [e for part in parts for e in part[0]]
        if not verifiable:
            return evaluated, None
        r = _random_scalar() if proof_scalar is None else _check_scalar(proof_scalar, "proof r")
        m = _sum([p[1] for p in parts])  # ComputeCompositesFast: Z = k * M
        z, t3 = _sum([_mul(k, m)]), _sum([_mul(r, m)])
        c = suite.challenge(self._pk, m, z, _mul_base(r), t3)
        s = _scalar_op(_c_ssub, r, _scalar_op(_c_smul, c, k))
        return evaluated, c + s

    def evaluate(self, input: bytes) -> bytes:
        """RFC 9497 Evaluate: the PRF output for ``input`` computed with the private key."""
        data = _as_bytes(input, "input")
        element = _mul(self._sk, self._suite.hash_to_group(data))
        if element is None:
            raise OprfError("evaluation produced the identity element")
        return _finalize_hash(data, element)
