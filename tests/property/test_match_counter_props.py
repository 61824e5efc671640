"""The match-flood counter's sliding window, against the matches it was given.

For every (member, signal), after each look-up match at time ``t`` the counter's estimate of matches in
``(t - window, t]`` is the matches of ``t``'s fixed window plus the previous window's, weighted by the share
of it inside the sliding one. So it is never below the fixed window's count (what a fixed-window counter
gives), never above that window's and the previous one's together, and exact while nothing is older than
the current window; other members and signals never change it. Pruning (a small ``MAX_ENTRIES``) changes
nothing, since it drops only windows that no longer count.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.safeguards.service import MatchCounter

WINDOW = 60


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[int, int, int]]:
    """(time, member, signal) of look-up matches in time order, spread over a few windows."""
    steps = draw(st.lists(st.tuples(st.integers(0, 90), st.integers(1, 3), st.integers(1, 4)), max_size=80))
    now, out = draw(st.integers(0, 10 * WINDOW)), []
    for dt, member, signal in steps:
        now += dt
        out.append((now, member, signal))
    return out


@settings(max_examples=300, deadline=None)
@given(histories(), st.sampled_from([2, 200_000]))
def test_the_estimate_lies_between_one_fixed_window_and_two(history: list[tuple[int, int, int]], limit: int) -> None:
    counter = MatchCounter()
    counter.MAX_ENTRIES = limit
    seen: dict[tuple[int, int], list[int]] = {}
    for now, member, signal in history:
        times = seen.setdefault((member, signal), [])
        times.append(now)
        [(sid, estimate)] = counter.count(member, [signal], now, WINDOW).items()
        win = now // WINDOW
        current = sum(1 for t in times if t // WINDOW == win)
        two = sum(1 for t in times if t // WINDOW >= win - 1)
        left = WINDOW - now % WINDOW  # seconds of the previous window inside (now - WINDOW, now]
        assert sid == signal
        assert estimate == current + (two - current) * left // WINDOW  # the previous window, weighted
        assert current <= estimate <= two
        if current == two:
            assert estimate == current


def test_a_burst_straddling_a_window_boundary_is_counted_from_both_windows() -> None:
    counter = MatchCounter()
    before = [counter.count(1, [7], 3600 - 1, 3600)[7] for _ in range(10)]  # the last second of a window
    after = [counter.count(1, [7], 3600 + 1, 3600)[7] for _ in range(10)]  # the first of the next
    assert before == list(range(1, 11))
    assert after == [n + 9 for n in range(1, 11)]  # 10 earlier matches, weighted 3599/3600, floor: 9 of them
    assert counter.count(2, [7], 3601, 3600) == {7: 1}  # another member's matches are its own
    assert counter.count(1, [7], 2 * 3600 - 1, 3600) == {7: 11}  # an hour on, the earlier ten have slid out


def test_pruning_keeps_the_counts_of_members_with_longer_windows() -> None:
    counter = MatchCounter()
    counter.MAX_ENTRIES = 1
    assert [counter.count(1, [7], 3500, 3600)[7] for _ in range(3)] == [1, 2, 3]  # member 1: hourly
    counter.count(2, [8], 3700, 60)
    counter.count(2, [9], 3700, 60)  # member 2's minute windows prune
    assert counter.count(1, [7], 3700, 3600) == {7: 1 + 3 * 3500 // 3600}  # member 1's last hour still counts


def test_forgetting_a_signal_starts_every_members_count_afresh() -> None:
    counter = MatchCounter()
    for member in (1, 2):
        counter.count(member, [7, 8], 100, 3600)
    counter.forget(7)
    assert counter.count(1, [7, 8], 101, 3600) == {7: 1, 8: 2}
    assert counter.count(2, [7], 101, 3600) == {7: 1}
