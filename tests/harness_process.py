"""Running `sigx serve` as a separate process (for crash, privacy and shutdown tests)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path


class ServerProcess:
    """``sigx serve --data-dir DIR --listen 127.0.0.1:0`` with its log in a file."""

    def __init__(self, data_dir: Path, log_path: Path, *extra: str, listen: str = "127.0.0.1:0") -> None:
        self.data_dir = data_dir
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exchange.cli",
                "serve",
                "--data-dir",
                str(data_dir),
                "--listen",
                listen,
                "--log-format",
                "json",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = re.search(r"listening on (127\.0\.0\.1:\d+)", line)
        if not match:
            self.proc.kill()
            raise RuntimeError(f"server did not start: {line!r}")
        self.address = match.group(1)

    def creds(self, name: str) -> Path:
        return self.data_dir / ("members/" + name if name.startswith("demo-") else name)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._log.close()

    def stop(self) -> int:
        """SIGTERM and wait: the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        self._log.close()
        return code
