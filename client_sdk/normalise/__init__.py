"""Identifier normalisation: the one place that turns a raw identifier into its canonical string.

Two members that hold the same e-mail address, phone number, handle, URL, ... must produce
byte-identical canonical strings, or their pseudonyms will never match. Every rule lives in this
package, one module per rule set (:mod:`.email`, :mod:`.domain`, :mod:`.phone`, :mod:`.handles`
for usernames and payment handles, :mod:`.url`, :mod:`.ip`, :mod:`.media`); this module is the
public API.

``normalise(kind, value, qualifier)`` returns the canonical string or raises
:class:`~client_sdk.errors.InvalidIdentifierError` naming the kind and the reason; it never
returns a best guess for invalid input and never raises anything else. Reasons name positions
and code points but do not echo the identifier, so they are safe to log.

Every normaliser is idempotent, and accepts its own output: ``username`` and
``payment_handle`` return ``"platform:handle"`` / ``"provider:handle"`` and parse that prefix
back when it is given again.
"""

from __future__ import annotations

from client_sdk.normalise._common import KINDS, absent, fail, prepare
from client_sdk.normalise.domain import normalise_domain
from client_sdk.normalise.email import normalise_email
from client_sdk.normalise.handles import normalise_payment_handle, normalise_username
from client_sdk.normalise.ip import normalise_ip
from client_sdk.normalise.media import normalise_digest
from client_sdk.normalise.phone import normalise_phone
from client_sdk.normalise.url import normalise_url
from client_sdk.vocab import canonical_type

__all__ = ["KINDS", "normalise"]


def normalise(kind: str, value: str, qualifier: str | None = None) -> str:
    """Return the canonical string of identifier ``value`` of type ``kind``.

    ``kind`` is one of :data:`KINDS` (or its upper-case wire name). ``qualifier`` is the
    platform for ``username``, the provider for ``payment_handle`` and the default region
    (ISO 3166 alpha-2) for ``phone``; other kinds take none (``None`` or ``""``).

    Raises :class:`InvalidIdentifierError` (naming the kind and the reason) for any invalid input.
    """
    canon = canonical_type(kind)
    if canon not in ("username", "payment_handle", "phone") and not absent(qualifier):
        raise fail(canon, "this identifier type takes no qualifier")
    if canon == "url":
        return normalise_url(value)
    v = prepare(canon, value)
    if canon == "email":
        return normalise_email(v)
    if canon == "phone":
        return normalise_phone(v, qualifier)
    if canon == "username":
        return normalise_username(v, qualifier)
    if canon == "payment_handle":
        return normalise_payment_handle(v, qualifier)
    if canon == "domain":
        return normalise_domain(v)
    if canon == "ip":
        return normalise_ip(v)
    return normalise_digest(canon, v, 32 if canon == "media_md5" else 64)
