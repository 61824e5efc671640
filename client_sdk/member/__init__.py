"""The member side: run the exchange's signals against your own platform.

``MatchIndex`` is a SQLite file the member owns: its accounts' pseudonyms (from the exchange's VOPRF, in
bulk) and its media hashes, mapped to its own account and content ids, the pull cursor, and the review
queue. ``MatchIndex.match`` pulls and matches; ``MatchIndex.review`` decides, and decisions go back to the
exchange as signed feedback, exactly once. Raw identifiers never leave the process or reach the file.
"""

from client_sdk.member.bulk import AddReport, BulkPseudonymiser
from client_sdk.member.errors import (
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    IndexQuotaError,
    MatchIndexError,
    MediaError,
    MediaSupportError,
    ReviewError,
    StaleItemError,
)
from client_sdk.member.index import IndexStats, MatchIndex, MediaAdded
from client_sdk.member.matcher import DEFAULT_MAX_DISTANCE, Matcher, MatchReport, MatchRun
from client_sdk.member.review import Decision, ReviewItem, ReviewQueue

__all__ = [
    "DEFAULT_MAX_DISTANCE",
    "AddReport",
    "BulkPseudonymiser",
    "Decision",
    "IndexCorruptError",
    "IndexMismatchError",
    "IndexMissingError",
    "IndexQuotaError",
    "IndexStats",
    "MatchIndex",
    "MatchIndexError",
    "MatchReport",
    "MatchRun",
    "Matcher",
    "MediaAdded",
    "MediaError",
    "MediaSupportError",
    "ReviewError",
    "ReviewItem",
    "ReviewQueue",
    "StaleItemError",
]
