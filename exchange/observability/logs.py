"""Structured logging: JSON lines in production, readable on a terminal.

Log events name members, methods, codes and counts — never identifiers,
pseudonyms, envelopes or keys. Python libraries' stdlib logging (grpcio's
``grpc._server``, ``grpc._cython.cygrpc``, …) goes through structlog's
``ProcessorFormatter``. gRPC's C core writes its own lines (``I1201 12:00:00.000
123 file.cc:42] …``) straight to file descriptor 2; ``capture_native=True``
(``sigx serve``) turns each of those into a structured line too, so a JSON log
holds nothing but JSON.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import sys
import threading
from typing import TextIO

import structlog

# absl's prefix: severity, MMDD hh:mm:ss.micros, thread id, file:line]
_NATIVE = re.compile(r"([IWEF])\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ ([^\]\s]+:\d+)\] ?(.*)")
_SEVERITY = {"I": logging.INFO, "W": logging.WARNING, "E": logging.ERROR, "F": logging.CRITICAL}


def configure(
    fmt: str = "auto", level: int = logging.INFO, stream: TextIO | None = None, capture_native: bool = False
) -> None:
    """Configure structlog (and route stdlib logging, grpcio's included, through it) to ``stream`` (stderr).

    With ``capture_native``, lines written to file descriptor 2 by native code (gRPC's core) are read
    back and logged as ``native_log`` events of logger ``grpc``; the log itself goes to a copy of the
    original stderr."""
    out = sys.stderr if stream is None else stream
    if capture_native:
        out = _capture_fd2()
    use_console = fmt == "console" or (fmt == "auto" and out.isatty())
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer() if use_console else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=True,
    )
    foreign: list[structlog.typing.Processor] = [
        *shared,
        structlog.stdlib.add_logger_name,
        structlog.processors.format_exc_info,
    ]
    handler = logging.StreamHandler(out)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(processor=renderer, foreign_pre_chain=foreign))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


def _capture_fd2() -> TextIO:
    """Point fd 2 at a pipe read by a thread that logs each line; returns a stream on the original stderr.

    Python's own ``sys.stderr`` moves to that stream too (a traceback at exit is never lost in the pipe)."""
    sys.stderr.flush()
    original = os.fdopen(os.dup(2), "w", encoding="utf-8", buffering=1)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    sys.stderr = original
    reader = threading.Thread(target=_relay, args=(read_end,), name="sigx-native-log", daemon=True)
    reader.start()

    def restore() -> None:  # at exit: fd 2 back to the terminal or journal, the pipe drained
        os.dup2(original.fileno(), 2)
        reader.join(timeout=1.0)

    atexit.register(restore)
    return original


def _relay(fd: int) -> None:
    logger = structlog.get_logger("grpc")
    with os.fdopen(fd, "rb") as pipe:
        for raw in pipe:
            line = raw.decode("utf-8", "replace").rstrip()
            if not line:
                continue
            m = _NATIVE.fullmatch(line)
            try:
                if m is None:
                    logger.warning("native_log", logger="grpc", message=line)
                else:
                    level, source, message = _SEVERITY[m.group(1)], m.group(2), m.group(3)
                    logger.log(level, "native_log", logger="grpc", source=source, message=message)
            except Exception:  # never let a bad line stop the relay: native writers would block on a full pipe
                continue
