"""Reading signals from files: CSV ``type,value,category[,provider|platform]`` or JSON lines.

JSON lines carry ``{"type", "value", "category"}`` and optionally ``provider``,
``platform``, ``region``, ``audience``, ``confidence``, ``expires_at``, ``labels``.
A CSV header row (first cell ``type``) is skipped. Errors name the line.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any

from client_sdk.errors import SignalExchangeError
from client_sdk.models import Identifier, Signal


class InputFileError(SignalExchangeError, ValueError):
    """A line of an input file could not be read as a signal."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


_QUALIFIER_FIELD = {"payment_handle": "provider", "username": "platform", "phone": "region"}


def _signal(kind: str, value: str, category: str, qualifier: str | None, extra: dict[str, Any]) -> Signal:
    kind = kind.strip().lower()
    field = _QUALIFIER_FIELD.get(kind)
    if qualifier and field is None:
        raise ValueError(f"type {kind} takes no provider/platform column")
    ident = Identifier(kind, value, **({field: qualifier} if field and qualifier else {}))
    return Signal(
        ident,
        category=category.strip(),
        audience=extra.get("audience"),
        confidence=int(extra.get("confidence", 100)),
        expires_at=extra.get("expires_at"),
        labels=tuple(extra.get("labels", ())),
    )


Row = Signal | InputFileError  # a signal, or why the line is not one


def parse_csv_rows(lines: Iterable[str]) -> Iterator[Row]:
    """Signals from CSV text lines, a malformed line as its InputFileError (the rest go on)."""
    number = 0
    try:
        for number, row in enumerate(csv.reader(lines, strict=True), start=1):
            if not row or (number == 1 and row[0].strip().lower() == "type"):
                continue
            if not 3 <= len(row) <= 4:
                yield InputFileError(
                    number, f"expected 3 or 4 columns (type,value,category[,provider|platform]), got {len(row)}"
                )
                continue
            try:
                yield _signal(row[0], row[1], row[2], row[3].strip() if len(row) == 4 and row[3].strip() else None, {})
            except ValueError as exc:
                yield InputFileError(number, str(exc))
    except csv.Error as exc:  # an unterminated quote runs to the end of the file: nothing after it parses
        yield InputFileError(number + 1, f"not CSV: {exc}")


def parse_json_rows(lines: Iterable[str]) -> Iterator[Row]:
    """Signals from JSON-lines text, a malformed line as its InputFileError (the rest go on)."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError("each line must be a JSON object")
            missing = [k for k in ("type", "value", "category") if not isinstance(obj.get(k), str)]
            if missing:
                raise ValueError(f"missing or non-string fields: {', '.join(missing)}")
            qualifier = obj.get("provider") or obj.get("platform") or obj.get("region")
            yield _signal(obj["type"], obj["value"], obj["category"], qualifier, obj)
        except (ValueError, TypeError) as exc:
            yield InputFileError(number, str(exc))


def sniff(first: str, fmt: str = "auto") -> str:
    """``csv`` or ``jsonl`` for ``fmt`` given the file's first line (``auto``: JSON when it starts with ``{``);
    raises InputFileError for a JSON array or document, which push does not read."""
    head = first.lstrip()
    if head.startswith("[") and fmt in ("auto", "jsonl"):
        raise InputFileError(1, "a JSON array: push reads JSON lines (one object per line) or CSV")
    if fmt == "auto":
        return "jsonl" if head.startswith("{") else "csv"
    if fmt not in ("csv", "jsonl"):
        raise ValueError(f"unknown input format {fmt!r}")
    return fmt


def parse_rows(lines: Iterable[str], fmt: str = "auto", first: str = "") -> Iterator[Row]:
    """Every line as a Signal or an InputFileError, in order (``fmt`` as ``sniff`` decides)."""
    return parse_json_rows(lines) if sniff(first, fmt) == "jsonl" else parse_csv_rows(lines)


def parse_lines(lines: Iterable[str], fmt: str = "auto", first: str = "") -> Iterator[Signal]:
    """Signals from a file's lines; raises the first InputFileError."""
    return _raising(parse_rows(lines, fmt, first))


def parse_csv_lines(lines: Iterable[str]) -> Iterator[Signal]:
    """Signals from CSV lines; raises the first InputFileError."""
    return _raising(parse_csv_rows(lines))


def parse_json_lines(lines: Iterable[str]) -> Iterator[Signal]:
    """Signals from JSON lines; raises the first InputFileError."""
    return _raising(parse_json_rows(lines))


def _raising(rows: Iterator[Row]) -> Iterator[Signal]:
    for row in rows:
        if isinstance(row, InputFileError):
            raise row
        yield row
