"""``sigx console`` for tests: the real command in a child process on 127.0.0.1:0, and a real headless
Chromium (Debian's ``chromium`` and ``chromium-driver``) driven by Selenium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
CHROMEDRIVER = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")
URL = re.compile(r"open (https?://\S+/login\?token=\S+)")


class ConsoleProcess:
    """``sigx console --as CREDS --listen 127.0.0.1:0 …``; everything it prints is kept (``output``)."""

    def __init__(self, creds: Path, server: str, *args: str, reviewer: str = "analyst-1") -> None:
        argv = [sys.executable, "-m", "exchange.cli", "console", "--as", str(creds), "--server", server]
        argv += ["--listen", "127.0.0.1:0", "--reviewer", reviewer, *args]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: list[str] = []
        found = threading.Event()
        self.login_url = ""

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.lines.append(line)
                match = URL.search(line)
                if match and not self.login_url:
                    self.login_url = match.group(1)
                    found.set()
            found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(30) or not self.login_url:
            self.stop()
            raise AssertionError("sigx console printed no login URL:\n" + "".join(self.lines))
        self.base = self.login_url.split("/login")[0]

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _first(paths: Sequence[str]) -> str | None:
    return next((p for p in paths if Path(p).exists()), None) or None


def chrome():
    """A headless Chromium; skips (a failure in CI) when Debian's chromium and chromium-driver are missing."""
    binary = _first(CHROMIUM) or shutil.which("chromium")
    driver = _first(CHROMEDRIVER) or shutil.which("chromedriver")
    if not binary or not driver:
        pytest.skip("no chromium/chromedriver: apt-get install chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,900", "--disable-extensions", "--no-first-run"):  # fmt: skip
        options.add_argument(flag)
    browser = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    browser.implicitly_wait(0)
    return browser


def wait_for(predicate, timeout: float = 10.0, what: str = "condition"):
    """``predicate()``'s first true value; a page that is still loading (stale or missing elements) is retried."""
    from selenium.common.exceptions import WebDriverException

    deadline = time.monotonic() + timeout
    last: WebDriverException | None = None
    while True:
        try:
            value = predicate()
        except WebDriverException as exc:  # missing or stale elements; Chromium also reports a node replaced
            value, last = None, exc  # mid-read as an "inspector error"
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}") from last
        time.sleep(0.05)


def session_for(browser, console: ConsoleProcess) -> requests.Session:
    """A requests session holding the browser's cookies for this console (to send forged requests)."""
    s = requests.Session()
    for cookie in browser.get_cookies():
        s.cookies.set(cookie["name"], cookie["value"], domain="127.0.0.1", path="/")
    return s


class Screenshots:
    """Screenshots of the main pages, kept in a temporary directory (``$SIGX_SCREENSHOTS`` to keep them)."""

    def __init__(self, directory: Path) -> None:
        target = os.environ.get("SIGX_SCREENSHOTS")
        self.directory = Path(target) if target else directory
        self.directory.mkdir(parents=True, exist_ok=True)

    def take(self, browser, name: str) -> Path:
        path = self.directory / f"{name}.png"
        browser.save_screenshot(str(path))
        return path
