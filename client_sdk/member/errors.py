"""Errors of the member side: the match index, its input files, media and the review queue.

All are :class:`~client_sdk.errors.SignalExchangeError`, so a caller (or ``sigx``) that handles the
SDK's errors handles these too. Messages name the file, line or item at fault, never a raw identifier.
"""

from __future__ import annotations

from pathlib import Path

from client_sdk.errors import SignalExchangeError


def unreadable(path: str | Path, exc: OSError) -> str:
    """Why a file could not be read, in the words every member-side message uses."""
    if isinstance(exc, FileNotFoundError):
        return f"{path}: no such file"
    if isinstance(exc, IsADirectoryError):
        return f"{path}: is a directory"
    if isinstance(exc, PermissionError):
        return f"{path}: not readable (permission denied)"
    return f"{path}: cannot be read ({exc.strerror or exc})"


class MatchIndexError(SignalExchangeError):
    """The match index cannot be used as asked."""


class IndexMissingError(MatchIndexError):
    """No index file at the given path (and the command does not create one)."""


class IndexCorruptError(MatchIndexError):
    """The file is not a match index, or it is damaged. Nothing in it was changed."""


class IndexMismatchError(MatchIndexError):
    """The index was built for another member or another OPRF key epoch (the message says which)."""


class IndexQuotaError(MatchIndexError):
    """The exchange refused more bulk evaluations; what was indexed is kept and a re-run resumes.

    ``retry_after`` (seconds) comes from the exchange's RetryInfo."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class MediaError(SignalExchangeError, ValueError):
    """A file could not be read or decoded as an image (names the file and the reason)."""


class MediaSupportError(MediaError):
    """The media extra is not installed (``pip install 'signal-exchange[media]'``)."""


class ReviewError(MatchIndexError):
    """A review action the queue refuses: unknown item, bad verdict, or a withdrawn signal."""


class StaleItemError(ReviewError):
    """The item changed since the decision's page showed it (another analyst decided it, or matching re-opened
    or withdrew it): nothing was recorded."""
