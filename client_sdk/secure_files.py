"""Private files and directories, written one way everywhere: keys, credentials, databases.

A private file is created 0600 in a temporary name beside its target (``O_EXCL | O_NOFOLLOW``, so it
can be neither a pre-planted link nor someone else's file), written, fsynced and renamed over the
target: a reader sees the old content or the new, never a half-written or briefly world-readable
secret. A private directory is 0700 whatever the umask.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from client_sdk.errors import CredentialsError

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def make_private_dir(path: Path) -> Path:
    """Create ``path`` (and its parents) if missing and make it 0700."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def write_file(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` atomically with ``data``, the new file created with ``mode`` (0600: private)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)  # the umask may have narrowed a public file's mode at creation
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def write_private_file(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically with a 0600 file holding ``data`` (never readable by others, even briefly)."""
    write_file(path, data, 0o600)


def check_private_file(path: Path) -> None:
    """Raise CredentialsError unless ``path`` is a regular file that only its owner can read."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        raise CredentialsError(f"{path} does not exist") from None
    if not stat.S_ISREG(st.st_mode):
        raise CredentialsError(f"{path} is not a regular file")
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsError(f"{path} is readable by others (mode {stat.S_IMODE(st.st_mode):o}); chmod 600 it")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
