"""Access policy through a real server: the role-by-method matrix, random policies against a
reference evaluator, live subscriptions following policy changes, and quotas under concurrency."""

from __future__ import annotations

import fnmatch
import itertools
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client_sdk import ExchangeClient, Identifier, Signal
from client_sdk.admin import AdminClient
from client_sdk.credentials import Credentials
from client_sdk.errors import PermissionDeniedError, QuotaExceededError
from client_sdk.wire import (
    admin_pb2,
    admin_pb2_grpc,
    directory_pb2,
    directory_pb2_grpc,
    exchange_pb2,
    exchange_pb2_grpc,
    log_pb2,
    log_pb2_grpc,
    pseudonymizer_pb2,
    pseudonymizer_pb2_grpc,
    safeguards_pb2,
    safeguards_pb2_grpc,
)
from exchange.policy.engine import METHOD_ROLES
from tests.harness import Exchange

pytestmark = pytest.mark.integration

# -- the role x method matrix ---------------------------------------------------------

# Expected: which roles may call each method (independent of the engine's own table).
EXPECTED_ROLES = {
    "Exchange/Submit": {"member"},
    "Exchange/SubmitStream": {"member"},
    "Exchange/Pull": {"member"},
    "Exchange/Subscribe": {"member"},
    "Exchange/Lookup": {"member"},
    "Exchange/Retract": {"member", "operator"},
    "Exchange/Feedback": {"member"},
    "Pseudonymizer/GetPublicKey": {"member", "operator", "auditor"},
    "Pseudonymizer/Evaluate": {"member", "operator"},
    "Directory/ListMembers": {"member", "operator", "auditor"},
    "Directory/ListSigningKeys": {"member", "operator", "auditor"},
    "Directory/WhoAmI": {"member", "operator", "auditor", "suspended", "government"},
    "Log/GetCheckpoint": {"member", "operator", "auditor"},
    "Log/GetInclusionProof": {"member", "operator", "auditor"},
    "Log/GetInclusionProofs": {"member", "operator", "auditor"},
    "Log/GetConsistencyProof": {"member", "operator", "auditor"},
    "Log/GetEntries": {"operator", "auditor"},
    "Safeguards/Release": {"member"},
    "Safeguards/Acknowledge": {"member"},
    "Safeguards/ListQuarantined": {"member", "operator"},
    "Safeguards/ListRedress": {"member", "operator"},
    **{
        f"Admin/{m}": {"operator"}
        for m in (
            "ApplyChange",
            "GetMember",
            "GetPolicy",
            "ListGroups",
            "ListCategories",
            "RunRetention",
            "GetStats",
            "GetCharter",
            "ListWarninglists",
            "GetReport",
        )
    },
}
# Members of the kinds the default charter forbids everything (no member policy can grant them more).
FORBIDDEN_KINDS = ("government",)


def _calls(channel: grpc.Channel) -> dict[str, object]:
    """One harmless call per method; each returns once the server has answered (or raises)."""
    ex = exchange_pb2_grpc.ExchangeStub(channel)
    ps = pseudonymizer_pb2_grpc.PseudonymizerStub(channel)
    di = directory_pb2_grpc.DirectoryStub(channel)
    ad = admin_pb2_grpc.AdminStub(channel)
    lg = log_pb2_grpc.LogStub(channel)
    sg = safeguards_pb2_grpc.SafeguardsStub(channel)
    t = 10
    return {
        "Exchange/Submit": lambda: ex.Submit(exchange_pb2.SubmitRequest(), timeout=t),
        "Exchange/SubmitStream": lambda: list(ex.SubmitStream(iter([exchange_pb2.SubmitRequest()]), timeout=t)),
        "Exchange/Pull": lambda: list(ex.Pull(exchange_pb2.PullRequest(limit=1), timeout=t)),
        "Exchange/Subscribe": lambda: next(iter(ex.Subscribe(exchange_pb2.PullRequest(), timeout=t)), None),
        "Exchange/Lookup": lambda: ex.Lookup(exchange_pb2.LookupRequest(), timeout=t),
        "Exchange/Retract": lambda: ex.Retract(exchange_pb2.RetractRequest(envelope=b""), timeout=t),
        "Exchange/Feedback": lambda: ex.Feedback(exchange_pb2.FeedbackRequest(envelope=b""), timeout=t),
        "Pseudonymizer/GetPublicKey": lambda: ps.GetPublicKey(pseudonymizer_pb2.GetPublicKeyRequest(), timeout=t),
        "Pseudonymizer/Evaluate": lambda: ps.Evaluate(pseudonymizer_pb2.EvaluateRequest(), timeout=t),
        "Directory/ListMembers": lambda: di.ListMembers(directory_pb2.ListMembersRequest(), timeout=t),
        "Directory/ListSigningKeys": lambda: di.ListSigningKeys(directory_pb2.ListSigningKeysRequest(), timeout=t),
        "Directory/WhoAmI": lambda: di.WhoAmI(directory_pb2.WhoAmIRequest(), timeout=t),
        "Log/GetCheckpoint": lambda: lg.GetCheckpoint(log_pb2.GetCheckpointRequest(), timeout=t),
        "Log/GetInclusionProof": lambda: lg.GetInclusionProof(
            log_pb2.GetInclusionProofRequest(index=0, tree_size=1), timeout=t
        ),
        "Log/GetInclusionProofs": lambda: lg.GetInclusionProofs(
            log_pb2.GetInclusionProofsRequest(indices=[0], tree_size=1), timeout=t
        ),
        "Log/GetConsistencyProof": lambda: lg.GetConsistencyProof(
            log_pb2.GetConsistencyProofRequest(size1=1, size2=1), timeout=t
        ),
        "Log/GetEntries": lambda: list(lg.GetEntries(log_pb2.GetEntriesRequest(start=0, end=1), timeout=t)),
        "Admin/ApplyChange": lambda: ad.ApplyChange(admin_pb2.ApplyChangeRequest(envelope=b""), timeout=t),
        "Admin/GetMember": lambda: ad.GetMember(admin_pb2.GetMemberRequest(member_id="demo-a"), timeout=t),
        "Admin/GetPolicy": lambda: ad.GetPolicy(admin_pb2.GetPolicyRequest(), timeout=t),
        "Admin/ListGroups": lambda: ad.ListGroups(admin_pb2.ListGroupsRequest(), timeout=t),
        "Admin/ListCategories": lambda: ad.ListCategories(admin_pb2.ListCategoriesRequest(), timeout=t),
        "Admin/RunRetention": lambda: ad.RunRetention(admin_pb2.RunRetentionRequest(), timeout=t),
        "Admin/GetStats": lambda: ad.GetStats(admin_pb2.GetStatsRequest(), timeout=t),
        "Safeguards/Release": lambda: sg.Release(safeguards_pb2.SafeguardRequest(envelope=b""), timeout=t),
        "Safeguards/Acknowledge": lambda: sg.Acknowledge(safeguards_pb2.SafeguardRequest(envelope=b""), timeout=t),
        "Safeguards/ListQuarantined": lambda: sg.ListQuarantined(safeguards_pb2.ListQuarantinedRequest(), timeout=t),
        "Safeguards/ListRedress": lambda: sg.ListRedress(safeguards_pb2.ListRedressRequest(), timeout=t),
        "Admin/GetReport": lambda: ad.GetReport(admin_pb2.GetReportRequest(period="2026"), timeout=t),
        "Admin/GetCharter": lambda: ad.GetCharter(admin_pb2.GetCharterRequest(), timeout=t),
        "Admin/ListWarninglists": lambda: ad.ListWarninglists(admin_pb2.ListWarninglistsRequest(), timeout=t),
    }


def _channel(exchange: Exchange, creds_name: str | Path) -> grpc.Channel:
    c = Credentials.load(creds_name if isinstance(creds_name, Path) else exchange.creds(creds_name))
    return grpc.secure_channel(exchange.address, grpc.ssl_channel_credentials(c.ca_pem, c.tls_key_pem, c.cert_pem))


def test_every_method_is_in_the_matrix() -> None:
    assert {m.split("v1.", 1)[1] for m in METHOD_ROLES} == set(EXPECTED_ROLES)


@pytest.mark.parametrize("who", ["member", "operator", "auditor", "suspended", *FORBIDDEN_KINDS])
def test_role_method_matrix(exchange: Exchange, who: str) -> None:
    creds: str | Path = {"member": "demo-a", "operator": "operator", "auditor": "auditor"}.get(who, "demo-b")
    if who == "suspended":
        with AdminClient.connect(exchange.address, exchange.creds("operator")) as op:
            op.change(set_member_status=admin_pb2.SetMemberStatus(member_id="demo-b", status="suspended"))
    if who in FORBIDDEN_KINDS:  # a member of that kind, with a policy that grants it everything a member may have
        creds = exchange.add_member("agency", kind=who)
    with _channel(exchange, creds) as channel:
        for method, call in _calls(channel).items():
            allowed = who in EXPECTED_ROLES[method]
            details = ""
            try:
                call()  # type: ignore[operator]
                code = grpc.StatusCode.OK
            except grpc.RpcError as exc:
                code, details = exc.code(), exc.details()  # type: ignore[attr-defined]
            if allowed:
                assert code != grpc.StatusCode.PERMISSION_DENIED, f"{who} should be allowed {method}"
                assert code not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL), (method, code)
            else:
                assert code == grpc.StatusCode.PERMISSION_DENIED, f"{who} should be denied {method}, got {code}"
                if who in FORBIDDEN_KINDS and "member" in EXPECTED_ROLES[method]:  # the role alone would allow it
                    assert f"charter forbid.{who}" in details, (method, details)


# -- random policies against a reference evaluator -----------------------------------------

TYPES = {"email": "u{n}@example.com", "domain": "d{n}.example", "ip": "10.{a}.{b}.1", "media_md5": "{n:032x}"}
CATEGORIES = ["sextortion.financial", "sextortion.other", "csam.distribution", "grooming"]
PATTERNS = ["*", "sextortion.*", "csam.*", *CATEGORIES]
type_lists = st.one_of(st.just(["*"]), st.lists(st.sampled_from(sorted(TYPES)), unique=True, max_size=4))
cat_lists = st.lists(st.sampled_from(PATTERNS), unique=True, max_size=3)


@dataclass
class MemberRules:
    submit_types: list[str]
    submit_categories: list[str]
    read_types: list[str]
    read_categories: list[str]

    def toml(self, name: str) -> str:
        def q(xs: list[str]) -> str:
            return "[" + ", ".join(f'"{x}"' for x in xs) + "]"

        return (
            f"[members.{name}]\nsubmit_types = {q(self.submit_types)}\n"
            f"submit_categories = {q(self.submit_categories)}\n"
            f"read_types = {q(self.read_types)}\nread_categories = {q(self.read_categories)}\n"
        )


rules = st.builds(MemberRules, type_lists, cat_lists, type_lists, cat_lists)


def ref_allows(patterns: list[str], value: str) -> bool:
    """Reference matcher: shell-style patterns (an independent implementation)."""
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


_counter = itertools.count(1)


def _identifier(kind: str) -> Identifier:
    n = next(_counter)
    return Identifier(kind, TYPES[kind].format(n=n, a=n // 250 % 250, b=n % 250))


@pytest.fixture(scope="module")
def policy_world(shared_exchange: Exchange) -> Iterator[tuple[Exchange, AdminClient, ExchangeClient, ExchangeClient]]:
    with AdminClient.connect(shared_exchange.address, shared_exchange.creds("operator")) as op:
        op.change(create_group=admin_pb2.CreateGroup(name="g"))
        with shared_exchange.client("demo-a") as a, shared_exchange.client("demo-b") as b:
            yield shared_exchange, op, a, b


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rules_a=rules,
    rules_b=rules,
    a_in_group=st.booleans(),
    b_in_group=st.booleans(),
    items=st.lists(
        st.tuples(st.sampled_from(sorted(TYPES)), st.sampled_from(CATEGORIES), st.booleans()), min_size=1, max_size=8
    ),
)
def test_random_policies_match_reference(
    policy_world: tuple[Exchange, AdminClient, ExchangeClient, ExchangeClient],
    rules_a: MemberRules,
    rules_b: MemberRules,
    a_in_group: bool,
    b_in_group: bool,
    items: list[tuple[str, str, bool]],
) -> None:
    _, op, a, b = policy_world
    for member, inside in (("demo-a", a_in_group), ("demo-b", b_in_group)):
        op.change(set_group_membership=admin_pb2.SetGroupMembership(group="g", member_id=member, member=inside))
    version = op.policy().version
    op.change(
        apply_policy=admin_pb2.ApplyPolicy(
            document=rules_a.toml("demo-a") + rules_b.toml("demo-b"), base_version=version
        )
    )
    cursor = next(iter(b.pull(after=None, limit=0, verify=False)), None)  # warm; real cursor below
    cursor_str = None
    for event in b.pull(verify=False):
        cursor_str = event.cursor
    del cursor

    idents = [_identifier(kind) for kind, _, _ in items]
    signals = [
        Signal(i, category=c, audience="g" if aud else None) for i, (_, c, aud) in zip(idents, items, strict=True)
    ]
    results = a.submit(signals)
    expected_visible = []
    for (kind, cat, aud), result in zip(items, results, strict=True):
        may_submit = (
            ref_allows(rules_a.submit_types, kind)
            and ref_allows(rules_a.submit_categories, cat)
            and (not aud or a_in_group)
        )
        assert (result.status == "accepted") == may_submit, (kind, cat, aud, result)
        if not may_submit:
            assert result.code == "PERMISSION_DENIED"
        b_sees = (
            ref_allows(rules_b.read_types, kind)
            and ref_allows(rules_b.read_categories, cat)
            and (not aud or b_in_group)
        )
        expected_visible.append(may_submit and b_sees)

    pulled = {e.signal_id for e in b.pull(after=cursor_str, verify=False)}
    for result, visible in zip(results, expected_visible, strict=True):
        assert (result.signal_id in pulled) == visible, result
    readable_kinds = [k for k in sorted(TYPES) if ref_allows(rules_b.read_types, k)]
    for ident, visible, (kind, _, _) in zip(idents, expected_visible, items, strict=True):
        if kind in readable_kinds:
            assert b.lookup([ident])[0].found == visible
        else:
            with pytest.raises(PermissionDeniedError) as exc:
                b.lookup([ident])
            assert exc.value.reason == "read_types"


# -- live subscriptions follow policy changes ------------------------------------------------


def test_subscription_follows_policy_and_group_changes(exchange: Exchange) -> None:
    received: list[str] = []
    ready = threading.Event()
    done = threading.Event()
    with (
        exchange.client("demo-a") as a,
        exchange.client("demo-b") as b,
        AdminClient.connect(exchange.address, exchange.creds("operator")) as op,
    ):

        def listen() -> None:
            for event in b.subscribe(on_cursor=lambda _c: ready.set()):
                if event.signal is not None:
                    received.append(event.signal.category)
                    if event.signal.category == "trafficking":
                        done.set()
                        return

        thread = threading.Thread(target=listen, daemon=True)
        thread.start()
        assert ready.wait(10)

        def submit(category: str) -> None:
            a.submit([Signal(_identifier("domain"), category=category)])

        submit("grooming")
        deadline = time.time() + 10
        while "grooming" not in received and time.time() < deadline:
            time.sleep(0.02)
        op.change(
            apply_policy=admin_pb2.ApplyPolicy(
                document='[members.demo-b]\nread_categories = ["sextortion.*", "trafficking"]\n'
            )
        )
        submit("grooming")  # hidden now
        submit("sextortion.financial")  # visible
        submit("trafficking")  # visible, ends the listener
        assert done.wait(10)
        thread.join(5)
    assert received == ["grooming", "sextortion.financial", "trafficking"]


# -- quotas hold under concurrency --------------------------------------------------------


def test_quota_holds_under_16_concurrent_clients(exchange: Exchange) -> None:
    now = exchange.clock()
    exchange.clock.advance(math.ceil(now / 60) * 60 - now + 0.5)  # start of a minute: one window for the test
    limit, batch = 400, 10
    with AdminClient.connect(exchange.address, exchange.creds("operator")) as op:
        op.change(
            apply_policy=admin_pb2.ApplyPolicy(
                document=f"[members.demo-a]\nsubmits_per_minute = {limit}\nlookups_per_day = {limit}\n"
            )
        )
    accepted: list[int] = []
    looked: list[int] = []
    denials: list[float] = []
    lock = threading.Lock()

    def worker(w: int) -> None:
        with exchange.client("demo-a") as client:
            for i in itertools.count():
                signals = [
                    Signal(Identifier("domain", f"q{w}-{i}-{j}.example"), category="grooming") for j in range(batch)
                ]
                try:
                    results = client.submit(signals)
                except QuotaExceededError as exc:
                    with lock:
                        denials.append(exc.retry_after or 0)
                    break
                with lock:
                    accepted.extend(r.seq for r in results if r.status == "accepted")
            for _ in itertools.count():
                try:
                    client.lookup([("domain", bytes(32))] * batch)
                except QuotaExceededError:
                    break
                with lock:
                    looked.append(batch)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(accepted) == limit and len(set(accepted)) == limit  # exact: never over, never lost
    assert sum(looked) == limit
    assert len(denials) == 16 and all(0 < d <= 60 for d in denials)


def test_invisible_signals_never_leave_the_store(exchange: Exchange) -> None:
    """Visibility is decided in the look-up query itself, so a value in a group the caller is not in costs
    what an absent value costs (bench/lookup_oracle.py measures it) and no invisible row is ever built."""
    with AdminClient.connect(exchange.address, exchange.creds("operator")) as op:
        op.change(create_group=admin_pb2.CreateGroup(name="closed"))
        op.change(set_group_membership=admin_pb2.SetGroupMembership(group="closed", member_id="demo-a", member=True))
    with exchange.client("demo-a") as a:
        ident = Identifier("email", "hidden@example.com")
        [value] = a.pseudonymise([ident])
        a.submit([Signal(ident, category="grooming", audience="closed")])
    store = exchange.running.store
    policy = exchange.running.services.policy
    outsider = policy.admit("demo-b", 10**10, "/signal_exchange.v1.Exchange/Lookup")
    insider = policy.admit("demo-a", 10**10, "/signal_exchange.v1.Exchange/Lookup")
    now = int(exchange.clock())
    assert store.lookup(1, [value], now, policy.read_filter(outsider, [1])) == []
    assert [m.signal.submitter for m in store.lookup(1, [value], now, policy.read_filter(insider, [1]))] == ["demo-a"]
