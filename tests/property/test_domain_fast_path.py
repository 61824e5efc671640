"""The ASCII domain fast path gives exactly what UTS #46 (the ``idna`` package) gives.

``client_sdk.normalise.domain.plain_ascii`` skips ``idna`` for plain ASCII host names; these tests
generate names around every rule it relies on (case, trailing dots, ``xn--`` labels, hyphens in
positions 3-4 and at the ends, 63/64-character labels, 253/254-character names, digits-only
labels, characters outside letter-digit-hyphen) and hold the fast path, and the whole domain and
e-mail rules built on it, to ``idna`` itself.
"""

from __future__ import annotations

import string

import idna
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from client_sdk.errors import InvalidIdentifierError
from client_sdk.normalise import normalise
from client_sdk.normalise.domain import idna_reason, plain_ascii

SETTINGS = settings(max_examples=400, deadline=None)

LDH = string.ascii_letters + string.digits + "-"
# Characters idna treats specially or refuses: separators, STD3 characters, an A-label's pieces.
ODD = "._!*$ +@:%/\\~"

label = st.one_of(
    st.text(LDH, min_size=1, max_size=12),
    st.text(LDH, min_size=60, max_size=66),  # around the 63-octet label limit
    st.text(string.digits, min_size=1, max_size=4),  # digits-only labels and TLDs
    st.builds(lambda a, b: a + "--" + b, st.text(LDH, min_size=2, max_size=2), st.text(LDH, max_size=6)),
    st.builds(lambda rest: "xn--" + rest, st.text(string.ascii_lowercase + string.digits + "-", max_size=10)),
    st.builds(lambda rest: "XN--" + rest, st.sampled_from(["bcher-kva", "nxasmq6b", "", "-", "abc-", "80ak6aa92e"])),
    st.sampled_from(["-a", "a-", "-", "a", "A", "ab--cd", "a--b", "--"]),
    st.text(LDH + ODD, min_size=1, max_size=8),
)


@st.composite
def ascii_names(draw: st.DrawFn) -> str:
    labels = draw(st.lists(label, min_size=1, max_size=5))
    sep = draw(st.sampled_from([".", ".", ".", ".."]))
    name = sep.join(labels)
    if draw(st.booleans()):
        name += draw(st.sampled_from([".", "..", "."]))
    return name


@st.composite
def long_names(draw: st.DrawFn) -> str:
    """Names of 250-256 characters, with and without a trailing dot (idna's 253/254 limit)."""
    target = draw(st.integers(250, 256))
    parts: list[str] = []
    while sum(map(len, parts)) + len(parts) < target:
        parts.append(draw(st.text(string.ascii_lowercase, min_size=1, max_size=63)))
    name = ".".join(parts)[:target].strip(".")
    return name + ("." if draw(st.booleans()) else "")


def _idna(text: str) -> tuple[str, str]:
    """("ok", A-label form) or ("error", reason) from ``idna`` alone."""
    try:
        return "ok", idna.encode(text, uts46=True, std3_rules=False).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError) as err:
        return "error", idna_reason(err)


def _reference_domain(text: str) -> tuple[str, str]:
    """The domain rule with ``idna`` alone (the rule as it was before the fast path)."""
    status, out = _idna(text.strip())
    if status == "error":
        return "error", out
    out = out.lower().removesuffix(".")
    if not out:
        return "error", "domain is empty"
    if out.rsplit(".", 1)[-1].isdigit():
        return "error", "top-level label is numeric (an IP address is not a domain)"
    return "ok", out


def _ours(kind: str, text: str) -> tuple[str, str]:
    try:
        return "ok", normalise(kind, text)
    except InvalidIdentifierError as err:
        return "error", err.reason


EDGES = [
    "EXAMPLE.COM",
    "example.com.",
    "example.com..",
    ".example.com",
    "xn--bcher-kva.de",
    "XN--BCHER-KVA.DE",
    "xn--a.com",
    "ab--cd.com",
    "a--b.com",
    "-ab.com",
    "ab-.com",
    "a" * 63 + ".com",
    "a" * 64 + ".com",
    ("a" * 63 + ".") * 3 + "a" * 61,
    ("a" * 63 + ".") * 3 + "a" * 61 + ".",
    ("a" * 63 + ".") * 3 + "a" * 62,
    "example.123",
    "123.456",
    "1.2.3.4",
    "under_score.com",
]


@SETTINGS
@given(st.one_of(ascii_names(), long_names()))
@example("EXAMPLE.COM")
@example("xn--bcher-kva.de")
@example("ab--cd.com")
@example("a" * 64 + ".com")
def test_fast_path_is_what_idna_gives(text: str) -> None:
    fast = plain_ascii(text)
    if fast is not None:
        assert _idna(text) == ("ok", fast)


@SETTINGS
@given(st.one_of(ascii_names(), long_names(), st.sampled_from(EDGES)))
def test_domain_rule_is_unchanged(text: str) -> None:
    assert _ours("domain", text) == _reference_domain(text)


@SETTINGS
@given(st.text(string.ascii_letters + string.digits + "._+-", min_size=1, max_size=20), ascii_names())
def test_email_domain_is_unchanged(local: str, domain: str) -> None:
    # whitespace at the ends of a domain is the domain test's: in an address only the right end is trimmed
    assume("@" not in domain and domain == domain.strip() != "" and len(local) + 1 + len(domain) <= 320)
    status, out = _ours("email", f"{local}@{domain}")
    ref_status, ref = _reference_domain(domain)
    if ref_status == "error":
        assert (status, out) == ("error", ref)
    elif status == "ok":
        assert out.rsplit("@", 1)[1] in (ref, "gmail.com")


def test_every_edge_case_agrees_and_plain_names_take_the_fast_path() -> None:
    for text in EDGES:
        assert _ours("domain", text) == _reference_domain(text), text
    for text in ["EXAMPLE.COM", "example.com.", "mail.example.co.uk", "a" * 63 + ".com", "x1-y.z"]:
        assert plain_ascii(text) == text.lower()
    for text in ["xn--bcher-kva.de", "ab--cd.com", "a" * 64 + ".com", "ex_ample.com", "b\u00fccher.de", "a..b"]:
        assert plain_ascii(text) is None
