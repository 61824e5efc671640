"""Where an event is: its seq, its signature-log index, and the cursor that resumes after it.

One place for the rules both the SDK and the exchange follow (docs/log-format.md):

* every accepted event has a seq, 1, 2, 3, … with no gaps; its entry in the signature log has index
  ``seq - 1`` (the log is a tree over every event, admin changes included);
* a cursor is ``c1.<seq>``: everything up to and including that seq has been seen. Clients treat it as
  opaque and resume from the one they were given.
"""

from __future__ import annotations

import re

CURSOR_PREFIX = "c1."
_CURSOR = re.compile(r"c1\.([0-9]{1,19})")


def log_index(seq: int) -> int:
    """The signature-log index of the event with ``seq``."""
    return seq - 1


def seq_at(index: int) -> int:
    """The seq of the event at signature-log ``index``."""
    return index + 1


def encode_cursor(seq: int) -> str:
    """The cursor that resumes after the event with ``seq``."""
    return f"{CURSOR_PREFIX}{seq}"


def decode_cursor(cursor: str) -> int:
    """The seq a cursor stands for (0 for "" : the beginning); raises ValueError for anything else."""
    if not cursor:
        return 0
    m = _CURSOR.fullmatch(cursor)
    if m is None:
        raise ValueError("malformed cursor")
    return int(m.group(1))
