"""Phone numbers: E.164 by libphonenumber, a region qualifier for national forms."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

from client_sdk.normalise._common import fail

_PHONE_CHARS = re.compile(r"\+?[\d \-.()/\u2010-\u2015\u2212]+")


def normalise_phone(value: str, qualifier: object) -> str:
    region = None
    if qualifier is not None:
        if not isinstance(qualifier, str):
            raise fail("phone", f"region qualifier must be a string, not {type(qualifier).__name__}")
        region = qualifier.strip().upper() or None
        if region is not None and region not in phonenumbers.SUPPORTED_REGIONS:
            raise fail("phone", "region qualifier is not a supported ISO 3166 alpha-2 code")
    v = unicodedata.normalize("NFKC", value).strip()
    if not _PHONE_CHARS.fullmatch(v):
        raise fail("phone", "only digits, separators (space - . ( ) /) and a leading '+' are allowed")
    if not v.startswith("+") and region is None:
        raise fail("phone", "needs a leading '+' (E.164) or a region qualifier such as 'US'")
    try:
        num = phonenumbers.parse(v, region)
    except phonenumbers.NumberParseException as err:
        raise fail("phone", "cannot parse: " + re.sub(r"^\(\d+\)\s*", "", str(err))) from None
    if num.extension:
        raise fail("phone", "extensions are not part of an E.164 number")
    if not phonenumbers.is_valid_number(num):
        raise fail("phone", "not a valid number for its country (libphonenumber)")
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
