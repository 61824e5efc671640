"""The operator's pages: members (kind, status, quota use today beside its limit, last activity), a member
(keys, the certificates issued to it with their expiry, groups, effective policy), the policy in force with a
diff preview of an uploaded file and an apply that refuses a stale base version, groups, retention, and charts
of the exchange's activity.

Every change is the same signed AdminChange the CLI sends (``AdminClient.change``), so the log records it
with the operator's key; previews are the exchange's own dry runs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from starlette.datastructures import UploadFile
from starlette.responses import Response

from client_sdk import SignalExchangeError
from client_sdk.admin import days_left, state_label
from client_sdk.vocab import VERDICTS
from client_sdk.wire import admin_pb2
from exchange.console import charts
from exchange.console.app import Console, ConsoleError, Handler, Page

DAILY_QUOTAS = ("lookups_per_day", "evaluations_per_day", "oprf_bulk_per_day")
MAX_POLICY = 1024 * 1024


def _pairs(counts: Any) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for c in counts:
        out.setdefault(c.key, {})[c.sub] = int(c.value)
    return out


def members_page(p: Page) -> Response:
    admin = p.console.admin()
    members = admin.members()
    stats = admin.stats()
    used = _pairs(stats.quota_used_today)
    limits = _pairs(stats.quota_limits)
    active = {c.key: int(c.value) for c in stats.last_activity_by_member}
    signals = {c.key: int(c.value) for c in stats.signals_by_member}
    rows = [
        {
            "id": m.member_id,
            "name": m.display_name,
            "role": m.role,
            "kind": m.kind,
            "status": m.status,
            "signals": signals.get(m.member_id, 0),
            "used": used.get(m.member_id, {}),
            "limits": limits.get(m.member_id),  # None: no quota applies (auditors)
            "last": active.get(m.member_id, 0),
        }
        for m in members
    ]
    return p.render("members.html", rows=rows, quotas=DAILY_QUOTAS, scope=stats.counts_scope)


def member_page(p: Page) -> Response:
    member_id = str(p.request.path_params["member"])
    admin = p.console.admin()
    detail = admin.member(member_id)
    keys = admin.keys(member_id)
    now = time.time()
    certs = [{"c": c, "days": days_left(c.not_after, now), "label": state_label(c.state)} for c in detail.certificates]
    return p.render("member.html", m=detail, keys=keys, certs=certs)


# -- policy ---------------------------------------------------------------------------------------


def policy_page(p: Page) -> Response:
    policy = p.console.admin().policy()
    return p.render("policy.html", policy=policy)


def _uploaded_policy(p: Page) -> str:
    assert p.form is not None
    upload = p.form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        data = upload.file.read(MAX_POLICY + 1)
        name = upload.filename[:80]
    else:
        text = p.field("document")
        if not text.strip():
            raise ConsoleError("choose a policy file (TOML) to preview")
        data, name = text.encode(), "the policy"
    if len(data) > MAX_POLICY:
        raise ConsoleError(f"{name}: larger than {MAX_POLICY // 1024} KiB; nothing was changed")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConsoleError(f"{name}: not UTF-8 text (byte {exc.start}); nothing was changed") from None


def _base_version(p: Page) -> int:
    raw = p.field("base_version")
    if not raw.isdigit():
        raise ConsoleError("the form lost the policy version it was made against: reload the policy page")
    return int(raw)


def policy_preview(p: Page) -> Response:
    admin = p.console.admin()
    current = admin.policy()
    base = _base_version(p)
    try:
        document = _uploaded_policy(p)
        preview = admin.change(dry_run=True, apply_policy=admin_pb2.ApplyPolicy(document=document, base_version=base))
    except ConsoleError as exc:
        return p.render("policy.html", status=400, policy=current, error=str(exc))
    except SignalExchangeError as exc:  # the exchange's refusal: a policy that does not parse, a stale base
        return p.render("policy.html", status=400, policy=current, error=f"Not applied: {exc.diagnostics()}")
    changed = not preview.summary.startswith("no change")
    return p.render(
        "policy_diff.html", policy=current, base=base, document=document, summary=preview.summary,
        changed=changed,
    )  # fmt: skip


def policy_apply(p: Page) -> Response:
    admin = p.console.admin()
    base = _base_version(p)
    document = p.field("document")
    if p.field("confirm") != "yes":
        raise ConsoleError("tick the confirmation to apply the policy; nothing was changed")
    try:
        resp = admin.change(apply_policy=admin_pb2.ApplyPolicy(document=document, base_version=base))
    except SignalExchangeError as exc:
        current = admin.policy()
        return p.render("policy.html", status=409, policy=current, error=f"Not applied: {exc.diagnostics()}")
    return p.redirect("/policy", f"Applied (log seq {resp.seq}): {resp.summary.splitlines()[0]}")


# -- groups and retention --------------------------------------------------------------------------


def groups_page(p: Page) -> Response:
    admin = p.console.admin()
    return p.render("groups.html", groups=admin.groups(), members=[m.member_id for m in admin.members()])


def group_change(p: Page) -> Response:
    admin = p.console.admin()
    group, member = p.field("group").strip(), p.field("member").strip()
    action = p.field("action")
    if action == "create":
        resp = admin.change(create_group=admin_pb2.CreateGroup(name=group))
    elif action in ("add", "remove"):
        change = admin_pb2.SetGroupMembership(group=group, member_id=member, member=action == "add")
        resp = admin.change(set_group_membership=change)
    else:
        raise ConsoleError("unknown group action")
    return p.redirect("/groups", resp.summary)


def retention_page(p: Page) -> Response:
    return p.render("retention.html", categories=p.console.admin().categories())


def retention_run(p: Page) -> Response:
    purged = p.console.admin().run_retention()
    return p.redirect("/retention", f"Retention ran: {purged} expired signal(s) purged")


# -- charts -------------------------------------------------------------------------------------------


def charts_page(p: Page) -> Response:
    stats = p.console.admin().stats()
    per_day: dict[str, dict[str, int]] = {}
    for c in stats.submits_by_day_category:
        per_day.setdefault(c.sub, {})[c.key] = int(c.value)
    submits = charts.line_chart("Signals submitted per day, by category", per_day)
    feedback = charts.bar_chart("Feedback outcomes per category", _pairs(stats.feedback_by_category), VERDICTS)
    return p.render("charts.html", submits=submits, feedback=feedback, stats=stats)


NAV = [
    ("/members", "Members"),
    ("/policy", "Policy"),
    ("/groups", "Groups"),
    ("/retention", "Retention"),
    ("/charts", "Charts"),
]


def pages(console: Console) -> Iterator[tuple[str, Handler, tuple[str, ...]]]:
    yield "/members", members_page, ("GET",)
    yield "/members/{member}", member_page, ("GET",)
    yield "/policy", policy_page, ("GET",)
    yield "/policy/preview", policy_preview, ("POST",)
    yield "/policy/apply", policy_apply, ("POST",)
    yield "/groups", groups_page, ("GET",)
    yield "/groups", group_change, ("POST",)
    yield "/retention", retention_page, ("GET",)
    yield "/retention/run", retention_run, ("POST",)
    yield "/charts", charts_page, ("GET",)
