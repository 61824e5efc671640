"""Quotas counted in PostgreSQL, so every replica charges the same counters."""

from __future__ import annotations

from dataclasses import replace

from psycopg_pool import ConnectionPool

from exchange.policy.quota import WINDOWS, QuotaLedger, UsageSummary, exhausted, used_today
from exchange.store.pg_errors import UNAVAILABLE, Clock, unavailable

_CHARGE = (  # admit into the window if it fits and, if it did, count it in the totals: one statement
    "WITH c AS (INSERT INTO quota_usage AS q (member, quota, win, used)"
    " VALUES (%(member)s, %(quota)s, %(win)s, %(n)s)"
    " ON CONFLICT (member, quota) DO UPDATE"
    " SET used = CASE WHEN q.win >= excluded.win THEN q.used + excluded.used ELSE excluded.used END,"
    " win = greatest(q.win, excluded.win)"
    " WHERE (CASE WHEN q.win >= excluded.win THEN q.used ELSE 0 END) + excluded.used <= %(limit)s"
    " RETURNING used),"
    " t AS (INSERT INTO quota_totals AS t (member, quota, admitted) SELECT %(member)s, %(quota)s, %(n)s FROM c"
    " ON CONFLICT (member, quota) DO UPDATE SET admitted = t.admitted + excluded.admitted)"
    " SELECT used FROM c"
)
_DENIED = (
    "INSERT INTO quota_totals AS t (member, quota, denied) VALUES (%s, %s, 1)"
    " ON CONFLICT (member, quota) DO UPDATE SET denied = t.denied + 1"
)


class PgQuotaLedger(QuotaLedger):
    """Quota use kept in PostgreSQL, so every replica charges the same counters.

    Admission is exact across processes: one upsert adds ``amount`` only if it
    fits in what is left of the window (``RETURNING`` nothing means refused).
    ``denials`` and ``totals`` count this process's decisions since start (its
    metrics); ``quota_totals`` counts every replica's, for ``summary``.
    """

    def __init__(self, pool: ConnectionPool, clock: Clock) -> None:
        super().__init__(clock)
        self._pool = pool

    def charge(self, member_id: str, quota: str, amount: int, limit: int) -> int:
        """Admit ``amount`` units or raise QuotaExceededError with the seconds until the window resets."""
        now = self._clock()
        window = int(now // WINDOWS[quota])
        row = None
        try:
            if amount <= limit:
                params = {"member": member_id, "quota": quota, "win": window, "n": amount, "limit": limit}
                with self._pool.connection() as conn:
                    row = conn.execute(_CHARGE, params, prepare=True).fetchone()
            used = 0
            if row is None:
                with self._pool.connection() as conn:
                    conn.execute(_DENIED, (member_id, quota), prepare=True)
                used = self._used_at(member_id, quota, window)
        except UNAVAILABLE as exc:
            raise unavailable(exc) from None
        if row is None:
            with self._lock:
                self.denials[member_id] = self.denials.get(member_id, 0) + 1
            raise exhausted(quota, limit, amount, used, now)
        with self._lock:
            self.totals[(member_id, quota)] = self.totals.get((member_id, quota), 0) + amount
        return window

    def refund(self, member_id: str, quota: str, amount: int, window: int) -> None:
        """Give back units charged in ``window`` (by any replica: the row is shared)."""
        try:
            with self._pool.connection() as conn, conn.transaction():
                refunded = conn.execute(
                    "UPDATE quota_usage SET used = greatest(used - %s, 0)"
                    " WHERE member = %s AND quota = %s AND win = %s",
                    (amount, member_id, quota, window),
                ).rowcount
                if refunded:
                    conn.execute(
                        "UPDATE quota_totals SET admitted = greatest(admitted - %s, 0)"
                        " WHERE member = %s AND quota = %s",
                        (amount, member_id, quota),
                    )
        except UNAVAILABLE as exc:
            raise unavailable(exc) from None

    def summary(self) -> UsageSummary:
        """Look-ups and OPRF evaluations admitted and quota denials per member, counted by every replica."""
        denials: dict[str, int] = {}
        try:
            with self._pool.connection() as conn:
                rows = conn.execute("SELECT member, quota, admitted, denied FROM quota_totals").fetchall()
        except UNAVAILABLE as exc:
            raise unavailable(exc) from None
        for member, _quota, _admitted, denied in rows:
            if denied:
                denials[member] = denials.get(member, 0) + int(denied)
        admitted = [(member, quota, int(n)) for member, quota, n, _ in rows]
        summary = UsageSummary.of(admitted, denials, "every replica, since the database was created")
        try:
            with self._pool.connection() as conn:
                used = conn.execute("SELECT member, quota, win, used FROM quota_usage").fetchall()
        except UNAVAILABLE as exc:
            raise unavailable(exc) from None
        today = used_today([(m, q, int(w), int(n)) for m, q, w, n in used], self._clock())
        return replace(summary, today=today)

    def _used_at(self, member_id: str, quota: str, window: int) -> int:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT win, used FROM quota_usage WHERE member = %s AND quota = %s", (member_id, quota)
            ).fetchone()
        return int(row[1]) if row is not None and row[0] >= window else 0

    def used(self, member_id: str, quota: str) -> int:
        """Units charged in the current window (by every replica)."""
        return self._used_at(member_id, quota, int(self._clock() // WINDOWS[quota]))
