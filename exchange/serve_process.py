"""``sigx serve`` as a child process: start it, learn the address it bound, read its CPU and memory, stop it.

The one helper the tests, the benchmarks and operators' scripts use to run a real exchange beside them. It
needs only the standard library, so it works on the member's install too, starting the server with another
environment's Python (``python=``).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

_LISTEN = re.compile(r"listening on (127\.0\.0\.1:\d+)")
_CLK_TCK = os.sysconf("SC_CLK_TCK")


class ServeProcess:
    """``python -m exchange.cli serve --data-dir DIR --listen LISTEN --log-format json EXTRA…``; its log
    (stderr) goes to ``log_path``; ``address`` is what it bound. ``track_rss`` polls its memory."""

    def __init__(
        self,
        data_dir: Path,
        log_path: Path,
        *extra: str,
        listen: str = "127.0.0.1:0",
        python: str | None = None,
        startup_timeout: float = 90.0,
        track_rss: bool = False,
    ) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        cmd = [python or sys.executable, "-m", "exchange.cli", "serve", "--data-dir", str(data_dir)]
        cmd += ["--listen", listen, "--log-format", "json", *extra]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        self.address = self._wait_for_address(startup_timeout)
        self._rss_peak_kib = 0
        self._rss_stop = threading.Event()
        if track_rss:
            threading.Thread(target=self._poll_rss, name="sigx-rss", daemon=True).start()

    def creds(self, name: str) -> Path:
        """A credentials directory of the first start: ``demo-a``, ``demo-b``, ``operator``, ``auditor``."""
        return self.data_dir / ("members/" + name if name.startswith("demo-") else name)

    def _wait_for_address(self, timeout: float) -> str:
        found: list[str] = []
        ready = threading.Event()
        stdout = self.proc.stdout
        assert stdout is not None

        def drain() -> None:  # read stdout to the end, so the server never blocks writing to it
            for raw in stdout:
                m = _LISTEN.search(raw.decode("utf-8", "replace"))
                if m and not found:
                    found.append(m.group(1))
                    ready.set()
            ready.set()

        threading.Thread(target=drain, name="sigx-serve-stdout", daemon=True).start()
        if not ready.wait(timeout) or not found:
            self.proc.kill()
            self.proc.wait()
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"sigx serve did not report its address within {timeout:.0f} s; log tail:\n{tail}")
        return found[0]

    # -- resources ----------------------------------------------------------------------------

    def _status_kib(self, field: str) -> int:
        try:
            with open(f"/proc/{self.pid}/status") as fh:
                for line in fh:
                    if line.startswith(field + ":"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def _poll_rss(self) -> None:
        while not self._rss_stop.wait(0.25):
            self._rss_peak_kib = max(self._rss_peak_kib, self._status_kib("VmRSS"))

    def rss_mib(self) -> float:
        return self._status_kib("VmRSS") / 1024

    def peak_rss_mib(self) -> float:
        """max(VmHWM, the highest polled VmRSS) in MiB."""
        return max(self._rss_peak_kib, self._status_kib("VmHWM"), self._status_kib("VmRSS")) / 1024

    def cpu_seconds(self) -> float:
        """utime + stime of the whole server process (every thread)."""
        try:
            with open(f"/proc/{self.pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / _CLK_TCK
        except (OSError, IndexError, ValueError):
            return 0.0

    # -- stopping -----------------------------------------------------------------------------

    def kill(self) -> None:
        """SIGKILL (a crash) and wait."""
        self._rss_stop.set()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._log.close()

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait (SIGKILL after ``timeout``); the exit code."""
        self._rss_stop.set()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode
