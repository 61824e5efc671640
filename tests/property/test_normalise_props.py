"""Property tests for client_sdk.normalise: idempotence, equivalent spellings collide, distinct ones don't."""

from __future__ import annotations

import string
from urllib.parse import quote

import phonenumbers
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from client_sdk.errors import InvalidIdentifierError
from client_sdk.normalise import KINDS, normalise
from client_sdk.normalise._unicode import DEFAULT_IGNORABLE_RANGES

SETTINGS = settings(max_examples=200, deadline=None)

QUALIFIERS = {
    "email": [None],
    "phone": [None, "US", "GB", "DE", "IN"],
    "username": [None, "twitter", "discord"],
    "payment_handle": [None, "cashapp", "paypal", "venmo", "zelle"],
    "url": [None],
    "domain": [None],
    "ip": [None],
    "media_md5": [None],
    "media_pdq": [None],
}

LOWER_ALNUM = string.ascii_lowercase + string.digits
ignorable_chars = st.sampled_from(DEFAULT_IGNORABLE_RANGES).flatmap(lambda r: st.integers(r[0], r[1]).map(chr))


def _try(kind: str, value: str, qualifier: str | None = None) -> str | None:
    """Canonical form, or None if rejected — any other exception type fails the test."""
    try:
        return normalise(kind, value, qualifier)
    except InvalidIdentifierError as err:
        assert err.kind == kind
        assert err.reason
        return None


def _assert_idempotent(kind: str, value: str, qualifier: str | None) -> None:
    once = _try(kind, value, qualifier)
    if once is None:
        return
    assert normalise(kind, once, qualifier) == once
    if kind in ("username", "payment_handle"):
        assert normalise(kind, once) == once  # the "name:" prefix is parsed back
    assert isinstance(once, str) and once == once.strip()


# ------------------------------------------------------------------------------ idempotence

# Text biased towards characters that matter to the normalisers.
interesting = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("aAbZz09@.+-_$£:/%#?[]  \t\nßİ\u0130\u212a\uff21\u00e9\u0301\u200b\u200d\ufeff")),
        st.characters(blacklist_categories=("Cs",)),
    ),
    max_size=40,
)


@pytest.mark.parametrize("kind", KINDS)
@SETTINGS
@given(value=interesting, data=st.data())
def test_arbitrary_text_is_rejected_cleanly_or_idempotent(kind: str, value: str, data: st.DataObject) -> None:
    qualifier = data.draw(st.sampled_from(QUALIFIERS[kind]))
    _assert_idempotent(kind, value, qualifier)


@SETTINGS
@given(value=st.text(max_size=60))
def test_url_arbitrary_text(value: str) -> None:
    _assert_idempotent("url", value, None)


@SETTINGS
@given(
    scheme=st.sampled_from(["", "http://", "HTTPS://", "ftp://"]),
    host=st.text(alphabet="abcXYZ019.-%ü[]:@ ", min_size=1, max_size=20),
    path=st.text(alphabet="abc/.%25#?;=&~ \u00e9", max_size=25),
)
def test_url_shaped_text_is_idempotent(scheme: str, host: str, path: str) -> None:
    _assert_idempotent("url", scheme + host + "/" + path, None)


prefixed = st.tuples(
    st.sampled_from(["twitter", "Discord", "cashapp", "venmo", "paypal", "zelle", "cash.app"]),
    st.text(alphabet="aZ09_-.@$£ \u200bß", max_size=15),
).map(lambda t: f"{t[0]}:{t[1]}")


@pytest.mark.parametrize("kind", ["username", "payment_handle"])
@SETTINGS
@given(value=prefixed)
def test_prefixed_forms_are_idempotent(kind: str, value: str) -> None:
    _assert_idempotent(kind, value, None)


@SETTINGS
@given(
    local=st.text(alphabet="aB9._+-ü", min_size=1, max_size=20),
    domain=st.sampled_from(["example.com", "GMAIL.com", "googlemail.com.", "ümlat.de", "xn--mlat-zra.com"]),
)
def test_email_shaped_text_is_idempotent(local: str, domain: str) -> None:
    _assert_idempotent("email", f"{local}@{domain}", None)


# ------------------------------------------------------------------ equivalent spellings collide

local_parts = st.text(alphabet=LOWER_ALNUM, min_size=1, max_size=20)
domains = st.lists(st.text(alphabet=LOWER_ALNUM, min_size=1, max_size=10), min_size=1, max_size=3).map(
    lambda labels: ".".join([*labels, "com"])
)


def _random_case(draw: st.DrawFn, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if f else c for c, f in zip(text, flips, strict=True))


@SETTINGS
@given(local=local_parts, domain=domains, data=st.data())
def test_email_case_and_whitespace_collide(local: str, domain: str, data: st.DataObject) -> None:
    assume(domain not in ("gmail.com", "googlemail.com"))
    plain = f"{local}@{domain}"
    spelled = "  " + _random_case(data.draw, plain) + " "
    assert normalise("email", spelled) == normalise("email", plain) == plain


@SETTINGS
@given(
    local=local_parts,
    dots=st.lists(st.integers(0, 20), max_size=5),
    tag=st.text(alphabet=LOWER_ALNUM + ".+-", max_size=10),
    host=st.sampled_from(["gmail.com", "GMail.com", "googlemail.com", "gmail.com."]),
    data=st.data(),
)
def test_gmail_dots_and_tags_collide(local: str, dots: list[int], tag: str, host: str, data: st.DataObject) -> None:
    dotted = local
    for pos in sorted(dots, reverse=True):
        dotted = dotted[: pos % (len(dotted) + 1)] + "." + dotted[pos % (len(dotted) + 1) :]
    spelled = _random_case(data.draw, dotted) + ("+" + tag if tag else "") + "@" + host
    assert normalise("email", spelled) == f"{local}@gmail.com"


cashtags = st.text(alphabet=LOWER_ALNUM, min_size=1, max_size=20).filter(lambda s: any(c.isalpha() for c in s))


@SETTINGS
@given(tag=cashtags, data=st.data())
def test_cashtag_spellings_collide(tag: str, data: st.DataObject) -> None:
    spelled = _random_case(data.draw, tag)
    forms = [
        ("$" + spelled, None),
        ("£" + spelled, None),
        ("cash.app/$" + spelled, None),
        ("https://cash.app/$" + spelled, None),
        ("http://www.cash.app/$" + spelled + "/", None),
        ("cash.me/$" + spelled, None),
        ("https://cash.app/%24" + spelled, None),
        (spelled, "cashapp"),
        ("$" + spelled, "CashApp"),
        ("cashapp:" + spelled, None),
    ]
    assert {normalise("payment_handle", v, q) for v, q in forms} == {f"cashapp:{tag}"}


@SETTINGS
@given(name=st.text(alphabet=LOWER_ALNUM, min_size=1, max_size=20), data=st.data())
def test_paypal_spellings_collide(name: str, data: st.DataObject) -> None:
    spelled = _random_case(data.draw, name)
    forms = [
        ("paypal.me/" + spelled, None),
        ("https://www.paypal.me/" + spelled, None),
        ("https://paypal.com/paypalme/" + spelled, None),
        ("paypal.me/" + spelled + "/25", None),
        (spelled, "paypal"),
        ("@" + spelled, "paypal"),
        ("paypal:" + spelled, None),
    ]
    assert {normalise("payment_handle", v, q) for v, q in forms} == {f"paypal:{name}"}


@SETTINGS
@given(name=st.text(alphabet=LOWER_ALNUM + "_-", min_size=1, max_size=30), data=st.data())
def test_venmo_spellings_collide(name: str, data: st.DataObject) -> None:
    spelled = _random_case(data.draw, name)
    forms = [
        ("venmo.com/" + spelled, None),
        ("https://venmo.com/u/" + spelled, None),
        ("https://account.venmo.com/u/" + spelled, None),
        ("@" + spelled, "venmo"),
        (spelled, "Venmo"),
        ("venmo:@" + spelled, None),
    ]
    assert {normalise("payment_handle", v, q) for v, q in forms} == {f"venmo:{name}"}


handles = st.text(alphabet=LOWER_ALNUM + "_.-", min_size=1, max_size=30).filter(lambda s: not s.startswith("@"))


@SETTINGS
@given(handle=handles, junk=st.lists(st.tuples(st.integers(0, 40), ignorable_chars), max_size=6), data=st.data())
def test_username_spellings_collide(handle: str, junk: list[tuple[int, str]], data: st.DataObject) -> None:
    spelled = _random_case(data.draw, handle)
    for pos, ch in junk:
        i = pos % (len(spelled) + 1)
        spelled = spelled[:i] + ch + spelled[i:]
    at = data.draw(st.sampled_from(["", "@", "\uff20"]))  # '@' or FULLWIDTH COMMERCIAL AT
    platform = data.draw(st.sampled_from(["twitter", "Twitter", " TWITTER "]))
    expected = f"twitter:{handle}"
    assert normalise("username", f" {at}{spelled} ", platform) == expected
    assert normalise("username", f"twitter:{at}{spelled}") == expected


@SETTINGS
@given(
    host=domains,
    segments=st.lists(
        st.text(alphabet=string.ascii_letters + string.digits + "-_.~!$&'()*+,;=:@ é", max_size=8), max_size=4
    ),
    data=st.data(),
)
def test_percent_encoded_url_collides_with_plain(host: str, segments: list[str], data: st.DataObject) -> None:
    # A final plain segment: raw whitespace at the very end of a URL is trimmed, "%20" is not.
    path = "/" + "/".join([*segments, "z"])
    encoded = "/" + "/".join([*(quote(s, safe="") for s in segments), "z"])
    fully = "".join(f"%{b:02X}" for b in path.encode())
    plain = normalise("url", f"http://{host}{path}")
    assert normalise("url", f"http://{host}{encoded}") == plain
    assert normalise("url", f"http://{host}{fully}") == plain
    assert normalise("url", f"{_random_case(data.draw, host)}{path}#frag") == plain
    assert normalise("url", f"HTTP://{host.upper()}.:80{path}?q=1") == plain


@SETTINGS
@given(host=domains, data=st.data())
def test_domain_spellings_collide(host: str, data: st.DataObject) -> None:
    spelled = _random_case(data.draw, host) + data.draw(st.sampled_from(["", ".", "\u3002"]))
    assert normalise("domain", f"  {spelled} ") == normalise("domain", host) == host


regions = st.sampled_from(sorted(r for r in phonenumbers.SUPPORTED_REGIONS if phonenumbers.example_number(r)))


@SETTINGS
@given(region=regions, seps=st.lists(st.sampled_from([" ", "-", ".", "  "]), min_size=20, max_size=20))
def test_phone_formatting_collides(region: str, seps: list[str]) -> None:
    num = phonenumbers.example_number(region)
    e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    intl = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    national = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.NATIONAL)
    digits = e164[1:]
    spaced = "+" + "".join(d + seps[i % len(seps)] for i, d in enumerate(digits)).strip(" -.")
    assert normalise("phone", e164) == e164
    assert normalise("phone", intl) == e164
    assert normalise("phone", spaced) == e164
    assert normalise("phone", e164, region) == e164
    if all(c.isdigit() or c in " -.()/" for c in national):
        assert normalise("phone", national, region) == e164


@SETTINGS
@given(a=st.ip_addresses(), data=st.data())
def test_ip_spellings_collide(a: object, data: st.DataObject) -> None:
    canonical = str(a)
    assume(not (a.version == 6 and a.ipv4_mapped is not None))  # type: ignore[attr-defined]
    if a.version == 6:  # type: ignore[attr-defined]
        assert normalise("ip", a.exploded.upper()) == canonical  # type: ignore[attr-defined]
        v4 = data.draw(st.ip_addresses(v=4))
        assert normalise("ip", f"::ffff:{v4}") == str(v4)
    assert normalise("ip", f" {canonical} ") == canonical


@SETTINGS
@given(digest=st.binary(min_size=16, max_size=16), pdq=st.binary(min_size=32, max_size=32))
def test_media_hash_case_collides(digest: bytes, pdq: bytes) -> None:
    assert normalise("media_md5", digest.hex().upper()) == digest.hex()
    assert normalise("MEDIA_PDQ", f" {pdq.hex().upper()}\u00a0") == pdq.hex()


# ----------------------------------------------------------------- distinct identifiers differ


@SETTINGS
@given(a=local_parts, b=local_parts, domain=domains)
def test_distinct_email_local_parts_differ(a: str, b: str, domain: str) -> None:
    assume(a != b)
    assert normalise("email", f"{a}@{domain}") != normalise("email", f"{b}@{domain}")


@SETTINGS
@given(a=local_parts, b=local_parts)
def test_distinct_gmail_accounts_differ(a: str, b: str) -> None:
    assume(a != b)
    assert normalise("email", f"{a}@gmail.com") != normalise("email", f"{b}@gmail.com")


@SETTINGS
@given(a=handles, b=handles)
def test_distinct_usernames_differ(a: str, b: str) -> None:
    assume(a != b)
    assert normalise("username", a, "twitter") != normalise("username", b, "twitter")
    assert normalise("username", a, "twitter") != normalise("username", a, "discord")


@SETTINGS
@given(a=cashtags, b=cashtags)
def test_distinct_cashtags_differ(a: str, b: str) -> None:
    assume(a != b)
    assert normalise("payment_handle", "$" + a) != normalise("payment_handle", "$" + b)
    assert normalise("payment_handle", a, "cashapp") != normalise("payment_handle", a, "venmo")


@SETTINGS
@given(a=domains, b=domains, p=st.text(alphabet=LOWER_ALNUM, max_size=5), q=st.text(alphabet=LOWER_ALNUM, max_size=5))
def test_distinct_urls_differ(a: str, b: str, p: str, q: str) -> None:
    assume((a, p) != (b, q))
    assert normalise("url", f"http://{a}/{p}") != normalise("url", f"http://{b}/{q}")


@SETTINGS
@given(a=st.ip_addresses(), b=st.ip_addresses())
def test_distinct_ips_differ(a: object, b: object) -> None:
    na, nb = normalise("ip", str(a)), normalise("ip", str(b))
    assert (na == nb) == (normalise("ip", na) == normalise("ip", nb))
    if a.version == b.version == 4:  # type: ignore[attr-defined]
        assert (na == nb) == (a == b)


@SETTINGS
@given(region=regions, other=regions)
def test_distinct_phone_numbers_differ(region: str, other: str) -> None:
    a = phonenumbers.example_number(region)
    b = phonenumbers.example_number(other)
    ea = phonenumbers.format_number(a, phonenumbers.PhoneNumberFormat.E164)
    eb = phonenumbers.format_number(b, phonenumbers.PhoneNumberFormat.E164)
    assert (normalise("phone", ea) == normalise("phone", eb)) == (ea == eb)
