"""Reading a member's own accounts: CSV ``account_id,type,value[,provider|platform]`` or JSON lines.

JSON lines carry ``{"account_id", "type", "value"}`` and optionally ``provider``, ``platform`` or
``region``. A CSV header row (first cell ``account_id``) is skipped. Each row is normalised at once;
a row that cannot be read or normalised becomes a :class:`BadRow` naming its line and the reason
(never the value), and nothing of it is hashed. One record per physical line, so a run can stop and
resume at a byte offset.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from client_sdk.client import oprf_input
from client_sdk.errors import InvalidIdentifierError
from client_sdk.models import Identifier
from client_sdk.vocab import MEDIA_TYPES, TYPE_CODES, canonical_type

MAX_ACCOUNT_ID = 256
FORMATS = ("csv", "jsonl")
_ACCOUNT_TYPES = sorted(set(TYPE_CODES) - MEDIA_TYPES)
_QUALIFIER = {"payment_handle": "provider", "username": "platform", "phone": "region"}


@dataclass(frozen=True, slots=True)
class AccountRow:
    """A readable row: the member's account id and the OPRF input of its identifier (in memory only)."""

    line: int
    account_id: str
    type: str
    oprf_input: bytes

    @property
    def type_code(self) -> int:
        return TYPE_CODES[self.type]


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row that was skipped, and why."""

    line: int
    reason: str


Row = AccountRow | BadRow


def _account_id(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError("account_id must be a string or a whole number")
    text = str(value).strip()
    if not text:
        raise ValueError("account_id is empty")
    if len(text) > MAX_ACCOUNT_ID:
        raise ValueError(f"account_id is longer than {MAX_ACCOUNT_ID} characters")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        raise ValueError("account_id contains a control character")
    return text


def _row(line: int, account_id: object, kind: object, value: object, qualifier: object) -> AccountRow:
    """Validate and normalise one record; raises ValueError (InvalidIdentifierError is one) with the reason."""
    account = _account_id(account_id)
    if not isinstance(kind, str) or not kind.strip():
        raise ValueError("type is missing")
    try:
        name = canonical_type(kind.strip())
    except InvalidIdentifierError:
        raise ValueError(
            f"unknown type (not shown, in case it is a misplaced value); expected one of {', '.join(_ACCOUNT_TYPES)}"
        ) from None
    if name in MEDIA_TYPES:
        raise ValueError(f"type {name} is for media: index files with sigx index add-media")
    if not isinstance(value, str):
        raise ValueError("value must be a string")
    if qualifier is not None and not isinstance(qualifier, str):
        raise ValueError("provider/platform/region must be a string")
    q = qualifier.strip() if qualifier else None
    field = _QUALIFIER.get(name)
    if q and field is None:
        raise ValueError(f"type {name} takes no provider/platform column")
    ident = Identifier(name, value, **({field: q} if field and q else {}))
    return AccountRow(line, account, name, oprf_input(name, ident.normalised()))


def parse_csv_line(text: str, line: int) -> Row | None:
    """One CSV line as a row (None for a blank line or the header)."""
    if not text.strip():
        return None
    try:
        cells = next(csv.reader([text], strict=True))
    except csv.Error as exc:
        return BadRow(line, f"not a CSV row ({exc})")
    if cells and cells[0].strip().lower() == "account_id":
        return None
    if not 3 <= len(cells) <= 4:
        return BadRow(line, f"expected 3 or 4 columns (account_id,type,value[,provider|platform]), got {len(cells)}")
    try:
        return _row(line, cells[0], cells[1], cells[2], cells[3] if len(cells) == 4 else None)
    except ValueError as exc:
        return BadRow(line, str(exc))


def parse_json_line(text: str, line: int) -> Row | None:
    """One JSON line as a row (None for a blank line)."""
    if not text.strip():
        return None
    try:
        obj: Any = json.loads(text)
    except ValueError as exc:
        return BadRow(line, f"not JSON ({exc.__class__.__name__})")
    if not isinstance(obj, dict):
        return BadRow(line, "each line must be a JSON object")
    missing = [k for k in ("account_id", "type", "value") if k not in obj]
    if missing:
        return BadRow(line, f"missing fields: {', '.join(missing)}")
    qualifiers = [obj[k] for k in ("provider", "platform", "region") if obj.get(k)]
    if len(qualifiers) > 1:
        return BadRow(line, "give only one of provider, platform, region")
    try:
        return _row(line, obj["account_id"], obj["type"], obj["value"], qualifiers[0] if qualifiers else None)
    except (ValueError, InvalidIdentifierError) as exc:
        return BadRow(line, str(exc))


def parse_line(text: str, line: int, fmt: str) -> Row | None:
    """Dispatch on ``fmt`` (``csv`` or ``jsonl``)."""
    return parse_json_line(text, line) if fmt == "jsonl" else parse_csv_line(text, line)


def parse_accounts(lines: Iterable[str], fmt: str = "csv") -> Iterator[Row]:
    """Rows of text lines (numbered from 1), bad ones included as BadRow."""
    for number, text in enumerate(lines, start=1):
        row = parse_line(text.rstrip("\r\n"), number, fmt)
        if row is not None:
            yield row


def guess_format(name: str, first_line: str) -> str:
    """``jsonl`` for .jsonl/.ndjson/.json files or a first line starting with ``{``, else ``csv``."""
    if name.lower().endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.lower().endswith(".csv"):
        return "csv"
    return "jsonl" if first_line.lstrip().startswith("{") else "csv"


def read_rows(fh: IO[bytes], fmt: str, offset: int = 0, line: int = 0) -> Iterator[tuple[int, Row]]:
    """``(end offset, row)`` for each record of a binary file, starting at byte ``offset`` (after line ``line``).

    The end offset is where a resumed run starts once that row is safely indexed."""
    fh.seek(offset)
    position = offset
    for raw in fh:
        position += len(raw)
        line += 1
        if position == len(raw) and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # a UTF-8 byte-order mark
        try:
            text = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            yield position, BadRow(line, "not UTF-8 text")
            continue
        row = parse_line(text, line, fmt)
        if row is not None:
            yield position, row
