"""``sigx serve``'s malloc settings: big arrays get pages of their own, and a thread's heap is not handed
back to the kernel after every call (which made each batched PDQ search fault its temporaries in again).

Measured in a child process (the settings are process-wide): a worker thread allocates and frees eight
512 KiB blocks fifty times over, and the page faults of the repeats are counted."""

from __future__ import annotations

import subprocess
import sys

_CHILD = """
import resource, sys, threading
from exchange import server
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


def _faults_per_round(mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", _CHILD, mode], capture_output=True, text=True, check=True, timeout=60)
    return float(out.stdout)


def test_a_threads_freed_heap_is_reused_without_page_faults() -> None:
    # 4 MiB allocated per round is 1,024 pages: kept heap faults none of them in again
    assert _faults_per_round("serve") < 10


def test_with_the_default_trim_threshold_the_same_rounds_fault_their_pages_in_again() -> None:
    # the contrast that makes the first test mean something
    assert _faults_per_round("mmap-only") > 500
