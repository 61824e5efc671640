"""``sigx serve``'s malloc settings: big arrays get pages of their own, and a thread's heap is not handed
back to the kernel after every call (which made each batched PDQ search fault its temporaries in again).

Measured in a child process (the settings are process-wide, and transparent huge pages are turned off
there so a page fault is one page): a worker thread allocates and frees eight 512 KiB blocks fifty times
over, and the page faults of the repeats are counted against the pages one round touches."""

from __future__ import annotations

import platform
import resource
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="the settings are glibc's (mallopt); elsewhere serve leaves malloc be"
)

_CHILD = """
import ctypes, resource, sys, threading
from exchange import server
ctypes.CDLL(None).prctl(41, 1, 0, 0, 0)  # PR_SET_THP_DISABLE
if sys.argv[1] == "serve":
    server._fixed_malloc_thresholds()
else:  # the mmap threshold fixed alone, as before: the trim threshold stays at glibc's 128 KiB
    server._fixed_malloc_thresholds(trim_from=128 * 1024)
def work():
    for _ in range(5):
        blocks = [bytearray(512 * 1024) for _ in range(8)]
        del blocks
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(50):
        blocks = [bytearray(512 * 1024) for _ in range(8)]
        del blocks
    print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 50)
worker = threading.Thread(target=work)
worker.start()
worker.join()
"""
_PAGES_PER_ROUND = 8 * 512 * 1024 // resource.getpagesize()


def _faults_per_round(mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", _CHILD, mode], capture_output=True, text=True, check=True, timeout=60)
    return float(out.stdout)


def test_a_threads_freed_heap_is_reused_without_page_faults() -> None:
    assert _faults_per_round("serve") < _PAGES_PER_ROUND / 50


def test_with_the_default_trim_threshold_the_same_rounds_fault_their_pages_in_again() -> None:
    # the contrast that makes the first test mean something
    assert _faults_per_round("mmap-only") > _PAGES_PER_ROUND / 2
