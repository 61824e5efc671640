"""Unit tests for client_sdk.normalise: concrete canonical forms and rejections per identifier type."""

from __future__ import annotations

import pytest

from client_sdk.errors import InvalidIdentifierError
from client_sdk.normalise import KINDS, normalise
from client_sdk.normalise._unicode import DEFAULT_IGNORABLE_RANGES, is_default_ignorable, strip_default_ignorable

ACCEPT = [
    # ----- email
    ("email", "alice@example.com", None, "alice@example.com"),
    ("email", "  Alice@Example.COM ", None, "alice@example.com"),
    ("email", "MyEmail@example.com", None, "myemail@example.com"),
    ("email", "Jane.Saoirse+Work@example.com", None, "jane.saoirse+work@example.com"),
    ("email", "jane.saoirse@gmail.com", None, "janesaoirse@gmail.com"),
    ("email", "J.A.N.E+news+more@GMAIL.COM", None, "jane@gmail.com"),
    ("email", "jane@googlemail.com", None, "jane@gmail.com"),
    ("email", "ja.ne+x@googlemail.com.", None, "jane@gmail.com"),
    ("email", "jane.doe@gmail.co.uk", None, "jane.doe@gmail.co.uk"),  # not gmail.com: no provider rules
    ("email", "jane.doe+x@outlook.com", None, "jane.doe+x@outlook.com"),
    ("email", "user@ümlaut.de", None, "user@xn--mlaut-jva.de"),
    ("email", "user@xn--mlaut-jva.de", None, "user@xn--mlaut-jva.de"),
    ("email", "user@\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25\uff0ecom", None, "user@example.com"),
    ("email", "Ünïcode@example.com", None, "ünïcode@example.com"),
    ("email", "a@b.example.", None, "a@b.example"),
    ("EMAIL", "A@B.COM", None, "a@b.com"),
    ("SIGNAL_TYPE_EMAIL", "A@B.COM", "", "a@b.com"),
    # ----- phone
    ("phone", "+14155550100", None, "+14155550100"),
    ("phone", "+1 (415) 555-0100", None, "+14155550100"),
    ("phone", "+1.415.555.0100", None, "+14155550100"),
    ("phone", " +1 415 555 0100 ", None, "+14155550100"),
    ("phone", "(415) 555-0100", "US", "+14155550100"),
    ("phone", "415-555-0100", "us", "+14155550100"),
    ("phone", "020 7946 0000", "GB", "+442079460000"),
    ("phone", "+44 20 7946 0000", "US", "+442079460000"),  # '+' wins over the region
    ("phone", "030 123456", "DE", "+4930123456"),
    (
        "phone",
        "\uff0b\uff11 \uff14\uff11\uff15 \uff15\uff15\uff15 \uff10\uff11\uff10\uff10",
        None,
        "+14155550100",
    ),  # full-width
    ("phone", "+14155550100", "", "+14155550100"),
    # ----- username
    ("username", "alice", "twitter", "twitter:alice"),
    ("username", "@Alice", "Twitter", "twitter:alice"),
    ("username", "  @ALICE  ", " twitter ", "twitter:alice"),
    ("username", "al\u200bice", "twitter", "twitter:alice"),  # zero-width space
    ("username", "\ufeffal\u200dic\u00ade\ufe0f", "twitter", "twitter:alice"),  # BOM, ZWJ, soft hyphen, VS16
    ("username", "\uff41\uff4c\uff49\uff43\uff45", "twitter", "twitter:alice"),  # NFKC
    ("username", "Straße", "mastodon.social", "mastodon.social:strasse"),  # casefold
    ("username", "ΣΊΣΥΦΟΣ", "x", "x:σίσυφοσ"),
    ("username", "twitter:alice", None, "twitter:alice"),
    ("username", "Twitter:@Alice", None, "twitter:alice"),
    ("username", "twitter:alice", "twitter", "twitter:alice"),
    ("username", "@alice:matrix.org", "matrix", "matrix:alice:matrix.org"),
    ("username", "matrix:alice:matrix.org", None, "matrix:alice:matrix.org"),
    ("username", "bob_99.x-y", "github", "github:bob_99.x-y"),
    # ----- payment_handle: Cash App
    ("payment_handle", "$Alice", None, "cashapp:alice"),
    ("payment_handle", "£Alice", None, "cashapp:alice"),
    ("payment_handle", " $alice99 ", None, "cashapp:alice99"),
    ("payment_handle", "cash.app/$Alice", None, "cashapp:alice"),
    ("payment_handle", "https://cash.app/$Alice", None, "cashapp:alice"),
    ("payment_handle", "http://www.cash.app/$alice/", None, "cashapp:alice"),
    ("payment_handle", "https://cash.app/$alice/25?utm=x", None, "cashapp:alice"),
    ("payment_handle", "https://cash.app/%24alice", None, "cashapp:alice"),
    ("payment_handle", "https://cash.app/£alice", None, "cashapp:alice"),
    ("payment_handle", "cash.me/$alice", None, "cashapp:alice"),
    ("payment_handle", "alice", "cashapp", "cashapp:alice"),
    ("payment_handle", "$alice", "CashApp", "cashapp:alice"),
    ("payment_handle", "alice", "cash.app", "cashapp:alice"),
    ("payment_handle", "cashapp:alice", None, "cashapp:alice"),
    ("payment_handle", "cashapp:$alice", "cashapp", "cashapp:alice"),
    ("payment_handle", "cashapp:https://cash.app/$alice", None, "cashapp:alice"),
    ("payment_handle", "$1a", None, "cashapp:1a"),
    ("payment_handle", "$" + "a" * 20, None, "cashapp:" + "a" * 20),
    # ----- payment_handle: PayPal
    ("payment_handle", "paypal.me/Alice", None, "paypal:alice"),
    ("payment_handle", "https://www.paypal.me/Alice", None, "paypal:alice"),
    ("payment_handle", "https://paypal.me/alice/10EUR", None, "paypal:alice"),
    ("payment_handle", "paypal.com/paypalme/Alice", None, "paypal:alice"),
    ("payment_handle", "https://www.paypal.com/paypalme/alice", None, "paypal:alice"),
    ("payment_handle", "Alice", "paypal", "paypal:alice"),
    ("payment_handle", "@alice", "PayPal", "paypal:alice"),
    ("payment_handle", "paypal:alice", None, "paypal:alice"),
    # ----- payment_handle: Venmo
    ("payment_handle", "venmo.com/Alice-B", None, "venmo:alice-b"),
    ("payment_handle", "https://venmo.com/u/alice_b", None, "venmo:alice_b"),
    ("payment_handle", "https://account.venmo.com/u/Alice", None, "venmo:alice"),
    ("payment_handle", "venmo.com/u", None, "venmo:u"),
    ("payment_handle", "@Alice", "venmo", "venmo:alice"),
    ("payment_handle", "alice", "venmo", "venmo:alice"),
    ("payment_handle", "venmo:@alice", None, "venmo:alice"),
    # ----- payment_handle: other providers
    ("payment_handle", "Alice@Example.com", "zelle", "zelle:alice@example.com"),
    ("payment_handle", "@Alice", "revolut", "revolut:alice"),
    ("payment_handle", "zelle:alice@example.com", None, "zelle:alice@example.com"),
    ("payment_handle", "ali\u200bce", "monzo", "monzo:alice"),
    ("PAYMENT_HANDLE", "$Alice", None, "cashapp:alice"),
    # ----- url
    ("url", "http://www.google.com/", None, "http://www.google.com/"),
    ("url", "www.Example.com", None, "http://www.example.com/"),
    ("url", "example.com:8080/x?y=1#z", None, "http://example.com/x"),
    ("url", "HTTPS://Example.COM:443/a/./b/../c//d/", None, "https://example.com/a/c/d/"),
    ("url", "http://user:pw@example.com/", None, "http://example.com/"),
    ("url", "http://example.com/a%20b", None, "http://example.com/a%20b"),
    ("url", "http://example.com/a b", None, "http://example.com/a%20b"),
    ("url", "http://example.com/%7Euser", None, "http://example.com/~user"),
    ("url", "http://example.com/caf\u00e9", None, "http://example.com/caf%c3%a9"),
    ("url", "http://0x7f.0.0.1/", None, "http://127.0.0.1/"),
    ("url", "http://0177.0.0.1/", None, "http://127.0.0.1/"),
    ("url", "http://2130706433/", None, "http://127.0.0.1/"),
    ("url", "http://12.0x12.01234/", None, "http://12.18.2.156/"),
    ("url", "http://[2001:DB8:0:0::1]:8080/a", None, "http://[2001:db8::1]/a"),
    ("url", "http://..example..com../", None, "http://example.com/"),
    ("url", "http://\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com/", None, "http://example.com/"),
    ("url", "http://bücher.example/", None, "http://xn--bcher-kva.example/"),
    ("url", "http://b%C3%BCcher.example/", None, "http://xn--bcher-kva.example/"),
    ("url", "ftp://files.example.com/pub/", None, "ftp://files.example.com/pub/"),
    ("url", "http://example.com/\x01", None, "http://example.com/%01"),  # controls are escaped (GSB)
    ("url", "http://example.com/a\tb\nc", None, "http://example.com/abc"),
    ("url", "http://example.com/a%2Fb", None, "http://example.com/a/b"),
    ("url", "http://example.com/%2e%2e/x", None, "http://example.com/x"),
    ("url", "http://example.com/a#b%23c", None, "http://example.com/a"),
    ("url", "http://example.com/a%23b", None, "http://example.com/a%23b"),
    ("URL", "example.com", "", "http://example.com/"),
    # ----- domain
    ("domain", "example.com", None, "example.com"),
    ("domain", "  Example.COM. ", None, "example.com"),
    ("domain", "ümlaut.de", None, "xn--mlaut-jva.de"),
    ("domain", "xn--mlaut-jva.de", None, "xn--mlaut-jva.de"),
    ("domain", "Faß.de", None, "xn--fa-hia.de"),  # UTS #46 non-transitional
    ("domain", "\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25\u3002com", None, "example.com"),
    ("domain", "exa\u00admple.com", None, "example.com"),  # soft hyphen is ignored by UTS #46
    ("domain", "localhost", None, "localhost"),
    ("domain", "a-b.c-d.example", None, "a-b.c-d.example"),
    ("DOMAIN", "EXAMPLE.ORG", None, "example.org"),
    # ----- ip
    ("ip", "192.0.2.1", None, "192.0.2.1"),
    ("ip", " 192.0.2.1 ", None, "192.0.2.1"),
    ("ip", "2001:DB8:0:0:0:0:0:1", None, "2001:db8::1"),
    ("ip", "2001:db8::1", None, "2001:db8::1"),
    ("ip", "::ffff:192.0.2.1", None, "192.0.2.1"),
    ("ip", "::FFFF:c000:0201", None, "192.0.2.1"),
    ("ip", "::1", None, "::1"),
    ("ip", "0:0:0:0:0:0:0:0", None, "::"),
    # ----- media
    ("media_md5", "D41D8CD98F00B204E9800998ECF8427E", None, "d41d8cd98f00b204e9800998ecf8427e"),
    ("media_md5", " d41d8cd98f00b204e9800998ecf8427e\n".strip(), None, "d41d8cd98f00b204e9800998ecf8427e"),
    ("media_pdq", "F" * 64, None, "f" * 64),
    ("media_pdq", "  " + "0a" * 32 + "  ", None, "0a" * 32),
]


@pytest.mark.parametrize(("kind", "value", "qualifier", "expected"), ACCEPT)
def test_canonical_form(kind: str, value: str, qualifier: str | None, expected: str) -> None:
    assert normalise(kind, value, qualifier) == expected


@pytest.mark.parametrize(("kind", "value", "qualifier", "expected"), ACCEPT)
def test_canonical_form_is_a_fixed_point(kind: str, value: str, qualifier: str | None, expected: str) -> None:
    assert normalise(kind, expected, qualifier) == expected
    if kind.lower() in ("username", "payment_handle"):
        assert normalise(kind, expected) == expected


REJECT = [
    # ----- any kind
    ("email", "", None, "empty"),
    ("email", "   ", None, "empty"),
    ("email", "a\x00@example.com", None, "control character U+0000"),
    ("email", "alice@example.com\n", None, "control character U+000A"),
    ("email", "a\ud800@example.com", None, "lone surrogate"),
    ("email", "a" * 310 + "@example.com", None, "longer than 320"),
    ("email", "alice@example.com", "x", "takes no qualifier"),
    ("domain", "example.com", "x", "takes no qualifier"),
    # ----- email
    ("email", "alice.example.com", None, "missing '@'"),
    ("email", "a@b@example.com", None, "more than one '@'"),
    ("email", "@example.com", None, "local part is empty"),
    ("email", "alice@", None, "domain is empty"),
    ("email", "al ice@example.com", None, "forbidden character U+0020"),
    ("email", "Alice <alice@example.com>", None, "forbidden character"),
    ("email", '"al"@example.com', None, "forbidden character U+0022"),
    ("email", "\u200balice@example.com", None, "invisible code point U+200B"),
    ("email", "alice@localhost", None, "at least two labels"),
    ("email", "alice@exa mple.com", None, "IDNA"),
    ("email", "alice@-example.com", None, "hyphen"),
    ("email", "alice@example..com", None, "IDNA"),
    ("email", "alice@[192.0.2.1]", None, "IDNA"),
    ("email", "alice@192.0.2.1", None, "numeric"),
    ("email", "+tag@gmail.com", None, "gmail local part is empty"),
    ("email", "...@gmail.com", None, "gmail local part is empty"),
    ("email", "a" * 65 + "@example.com", None, "longer than 64 octets"),
    # ----- phone
    ("phone", "4155550100", None, "leading '+'"),
    ("phone", "(415) 555-0100", None, "region qualifier"),
    ("phone", "+1 415 555 0100 ext 5", None, "only digits"),
    ("phone", "tel:+14155550100", None, "only digits"),
    ("phone", "+1-800-FLOWERS", None, "only digits"),
    ("phone", "+1 123", None, "not a valid number"),
    ("phone", "+999 123456789", None, "cannot parse"),
    ("phone", "+14155550100", "XX", "region qualifier is not a supported"),
    ("phone", "+14155550100", "USA", "region qualifier is not a supported"),
    ("phone", "++14155550100", None, "only digits"),
    ("phone", "+1" + "0" * 70, None, "longer than 64"),
    ("phone", "+1 415\t555 0100", None, "control character U+0009"),
    # ----- username
    ("username", "alice", None, "platform required"),
    ("username", "alice", "Bad Platform", "platform must match"),
    ("username", "alice", "-twitter", "platform must match"),
    ("username", "alice", "twïtter", "platform must match"),
    ("username", "twitter:alice", "mastodon", "contradicts"),
    ("username", "@", "twitter", "handle is empty"),
    ("username", "\u200b\u200d", "twitter", "empty"),
    ("username", "twitter:", None, "handle is empty"),
    ("username", "@@alice", "twitter", "more than one leading '@'"),
    ("username", "al ice", "twitter", "whitespace U+0020"),
    ("username", "al\u00a0ice", "twitter", "whitespace"),
    ("username", "al\u3000ice", "twitter", "whitespace"),
    ("username", "al\x07ice", "twitter", "control character U+0007"),
    ("username", "a" * 300, "twitter", "longer than 256"),
    ("username", "a" * 500, "twitter", "longer than 400"),
    ("username", "alice", 5, "must be a string"),
    # ----- payment_handle
    ("payment_handle", "alice", None, "provider required"),
    ("payment_handle", "@alice", None, "provider required"),
    ("payment_handle", "$", None, "cashtag must be 1-20"),
    ("payment_handle", "$123", None, "at least one letter"),
    ("payment_handle", "$ali-ce", None, "cashtag must be 1-20"),
    ("payment_handle", "$ali_ce", None, "cashtag must be 1-20"),
    ("payment_handle", "$" + "a" * 21, None, "cashtag must be 1-20"),
    ("payment_handle", "$alice", "venmo", "Venmo username"),
    ("payment_handle", "https://cash.app/$alice", "venmo", "provider qualifier is 'venmo'"),
    ("payment_handle", "paypal.me/alice", "cashapp", "provider qualifier is 'cashapp'"),
    ("payment_handle", "venmo:alice", "paypal", "contradicts"),
    ("payment_handle", "cashapp:https://venmo.com/alice", None, "link is for 'venmo'"),
    ("payment_handle", "https://cash.app/alice", None, "must start with '$'"),
    ("payment_handle", "https://cash.app/", None, "no handle"),
    ("payment_handle", "https://cash.app/$alice/extra/path", None, "unexpected path"),
    ("payment_handle", "ftp://cash.app/$alice", None, "http or https"),
    ("payment_handle", "https://example.com/alice", None, "not a recognised payment link"),
    ("payment_handle", "https://paypal.com/alice", None, "paypal.com/paypalme/<handle>"),
    ("payment_handle", "https://account.venmo.com/alice", None, "account.venmo.com/u/<handle>"),
    ("payment_handle", "paypal.me/ali-ce", None, "PayPal.Me name"),
    ("payment_handle", "paypal.me/" + "a" * 21, None, "PayPal.Me name"),
    ("payment_handle", "venmo.com/alice/25", None, "unexpected path"),
    ("payment_handle", "venmo.com/al.ice", None, "Venmo username"),
    ("payment_handle", "al ice", "zelle", "whitespace"),
    ("payment_handle", "a/b", "zelle", "contains '/'"),
    ("payment_handle", "https:alice", None, "not a payment provider"),
    ("payment_handle", "alice", "Bad Provider", "provider must match"),
    # ----- url
    ("url", "", None, "empty"),
    ("url", " \t\n", None, "empty"),
    ("url", "#frag", None, "empty"),
    ("url", "/path/only", None, "missing host"),
    ("url", "http:///path", None, "missing host"),
    ("url", "http://.../", None, "missing host"),
    ("url", "http://user@/", None, "missing host"),
    ("url", "mailto:alice@example.com", None, "not followed by '//'"),
    ("url", "javascript:alert(1)", None, "not followed by '//'"),
    ("url", "http://[2001:db8::1/", None, "missing its ']'"),
    ("url", "http://[not-ipv6]/", None, "invalid IPv6"),
    ("url", "http://ü<>.com/", None, "IDNA"),
    ("url", "http://a\u2100b.com/", None, "URL delimiter"),
    ("url", "http://\udcff\udcfe.com/", None, "neither ASCII nor valid UTF-8"),
    ("url", "http://\ud800.com/", None, "lone surrogate"),
    ("url", "http://example.com/" + "a" * 2040, None, "longer than 2048"),
    ("url", "http://example.com/" + "\u00e9" * 600, None, "canonical URL is longer than 2048"),
    ("url", 42, None, "must be a string"),
    # ----- domain
    ("domain", "", None, "empty"),
    ("domain", ".", None, "IDNA"),
    ("domain", "exa mple.com", None, "U+0020"),
    ("domain", "_dmarc.example.com", None, "U+005F"),
    ("domain", "-example.com", None, "hyphen"),
    ("domain", "example-.com", None, "hyphen"),
    ("domain", "ab--cd.com", None, "hyphen"),
    ("domain", "a" * 64 + ".com", None, "IDNA"),
    ("domain", "xn--zz.com", None, "IDNA"),
    ("domain", "example..com", None, "IDNA"),
    ("domain", "a\u200db.com", None, "context"),
    ("domain", "https://example.com/", None, "IDNA"),
    ("domain", "*.example.com", None, "IDNA"),
    ("domain", "192.0.2.1", None, "numeric"),
    ("domain", "example.123", None, "numeric"),
    ("domain", ("a" * 60 + ".") * 5 + "com", None, "IDNA"),
    # ----- ip
    ("ip", "", None, "empty"),
    ("ip", "256.1.1.1", None, "not a valid IPv4 or IPv6"),
    ("ip", "01.2.3.4", None, "not a valid IPv4 or IPv6"),
    ("ip", "1.2.3", None, "not a valid IPv4 or IPv6"),
    ("ip", "example.com", None, "not a valid IPv4 or IPv6"),
    ("ip", "[::1]", None, "not a valid IPv4 or IPv6"),
    ("ip", "fe80::1%eth0", None, "zone/scope"),
    ("ip", "192.0.2.1/24", None, "not a valid IPv4 or IPv6"),
    # ----- media
    ("media_md5", "", None, "empty"),
    ("media_md5", "d41d8cd98f00b204e9800998ecf8427", None, "exactly 32 hex characters, got 31"),
    ("media_md5", "d41d8cd98f00b204e9800998ecf8427e0", None, "exactly 32"),
    ("media_md5", "g41d8cd98f00b204e9800998ecf8427e", None, "only hex digits"),
    ("media_md5", "d41d8cd98f00b204 e9800998ecf8427e", None, "exactly 32"),
    ("media_md5", "0x" + "a" * 30, None, "only hex digits"),
    ("media_pdq", "a" * 32, None, "exactly 64 hex characters, got 32"),
    ("media_pdq", "\uff41" * 64, None, "only hex digits"),
    ("media_pdq", "a" * 300, None, "longer than 256"),
]


@pytest.mark.parametrize(("kind", "value", "qualifier", "reason"), REJECT)
def test_rejected_with_kind_and_reason(kind: str, value: str, qualifier: str | None, reason: str) -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        normalise(kind, value, qualifier)
    err = info.value
    assert err.kind == kind.lower()
    assert reason in err.reason
    assert str(err).startswith(f"invalid {kind.lower()}: ")


def test_reasons_do_not_echo_the_identifier() -> None:
    secret = "zq7secret"
    for kind, value, qualifier in [
        ("email", f"{secret} x@example.com", None),
        ("email", f"a@{secret} x.com", None),
        ("domain", f"{secret}_x.com", None),
        ("domain", f"{secret}'x.com", None),
        ("url", f"http://{secret}\u2100.com/", None),
        ("username", f"{secret} x", "twitter"),
        ("payment_handle", f"{secret}-x", "paypal"),
    ]:
        with pytest.raises(InvalidIdentifierError) as info:
            normalise(kind, value, qualifier)
        assert secret not in str(info.value)


@pytest.mark.parametrize("kind", ["bogus", "Email", "e-mail", "", "SIGNAL_TYPE_UNSPECIFIED"])
def test_unknown_kind(kind: str) -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        normalise(kind, "x")
    assert info.value.kind == kind
    assert "unknown identifier type" in info.value.reason


def test_unknown_kind_not_a_string() -> None:
    with pytest.raises(InvalidIdentifierError, match="unknown identifier type"):
        normalise(None, "x")  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_rejects_non_strings_and_empty(kind: str) -> None:
    for bad in (None, b"bytes", 12, ""):
        with pytest.raises(InvalidIdentifierError) as info:
            normalise(kind, bad)  # type: ignore[arg-type]
        assert info.value.kind == kind


@pytest.mark.parametrize("kind", KINDS)
def test_wire_names_are_aliases(kind: str) -> None:
    samples = {
        "email": ("A@Example.com", None),
        "phone": ("+1 415 555 0100", None),
        "username": ("@Alice", "twitter"),
        "payment_handle": ("$Alice", None),
        "url": ("Example.com", None),
        "domain": ("Example.com", None),
        "ip": ("::ffff:192.0.2.1", None),
        "media_md5": ("A" * 32, None),
        "media_pdq": ("B" * 64, None),
    }
    value, qualifier = samples[kind]
    expected = normalise(kind, value, qualifier)
    assert normalise(kind.upper(), value, qualifier) == expected
    assert normalise("SIGNAL_TYPE_" + kind.upper(), value, qualifier) == expected


def test_kinds_tuple() -> None:
    assert KINDS == (
        "email",
        "phone",
        "username",
        "payment_handle",
        "url",
        "domain",
        "ip",
        "media_md5",
        "media_pdq",
    )


def test_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        normalise("ip", "nope")


def test_default_ignorable_table() -> None:
    assert sum(hi - lo + 1 for lo, hi in DEFAULT_IGNORABLE_RANGES) == 4174
    for cp in (0x00AD, 0x034F, 0x200B, 0x200C, 0x200D, 0x2060, 0xFE0F, 0xFEFF, 0x1D173, 0xE0001, 0xE01EF, 0xE0FFF):
        assert is_default_ignorable(chr(cp))
    for cp in (0x20, 0x41, 0x00AC, 0x00AE, 0x2010, 0x2070, 0xFE10, 0xFFF9, 0xE1000):
        assert not is_default_ignorable(chr(cp))
    assert strip_default_ignorable("a\u200bb\ufeffc\U000e0041") == "abc"
