"""Unicode tables used by identifier normalisation.

``DEFAULT_IGNORABLE_RANGES`` is the ``Default_Ignorable_Code_Point`` property from
the Unicode Character Database (``DerivedCoreProperties.txt``), written out as
explicit inclusive ranges so the result does not depend on which Unicode
version the running Python ships. The set has been stable since Unicode 7.0
(4,174 code points, including the reserved code points the property covers so
that characters assigned there later stay ignorable).
"""

from __future__ import annotations

import bisect
import re

DEFAULT_IGNORABLE_RANGES: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),  # SOFT HYPHEN
    (0x034F, 0x034F),  # COMBINING GRAPHEME JOINER
    (0x061C, 0x061C),  # ARABIC LETTER MARK
    (0x115F, 0x1160),  # HANGUL CHOSEONG FILLER..HANGUL JUNGSEONG FILLER
    (0x17B4, 0x17B5),  # KHMER VOWEL INHERENT AQ..KHMER VOWEL INHERENT AA
    (0x180B, 0x180F),  # MONGOLIAN FREE VARIATION SELECTORS, MONGOLIAN VOWEL SEPARATOR
    (0x200B, 0x200F),  # ZERO WIDTH SPACE, ZWNJ, ZWJ, LRM, RLM
    (0x202A, 0x202E),  # LEFT-TO-RIGHT EMBEDDING..RIGHT-TO-LEFT OVERRIDE
    (0x2060, 0x206F),  # WORD JOINER..NOMINAL DIGIT SHAPES (2065 reserved)
    (0x3164, 0x3164),  # HANGUL FILLER
    (0xFE00, 0xFE0F),  # VARIATION SELECTOR-1..VARIATION SELECTOR-16
    (0xFEFF, 0xFEFF),  # ZERO WIDTH NO-BREAK SPACE (BOM)
    (0xFFA0, 0xFFA0),  # HALFWIDTH HANGUL FILLER
    (0xFFF0, 0xFFF8),  # reserved
    (0x1BCA0, 0x1BCA3),  # SHORTHAND FORMAT LETTER OVERLAP..SHORTHAND FORMAT UP STEP
    (0x1D173, 0x1D17A),  # MUSICAL SYMBOL BEGIN BEAM..MUSICAL SYMBOL END PHRASE
    (0xE0000, 0xE0FFF),  # LANGUAGE TAG, TAG characters, VARIATION SELECTOR-17..256, reserved
)

_STARTS = [lo for lo, _ in DEFAULT_IGNORABLE_RANGES]

_IGNORABLE_RE = re.compile("[" + "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in DEFAULT_IGNORABLE_RANGES) + "]")


def is_default_ignorable(ch: str) -> bool:
    """True if the single character ``ch`` has the Default_Ignorable_Code_Point property."""
    cp = ord(ch)
    i = bisect.bisect_right(_STARTS, cp) - 1
    return i >= 0 and cp <= DEFAULT_IGNORABLE_RANGES[i][1]


def strip_default_ignorable(text: str) -> str:
    """Remove every Default_Ignorable_Code_Point character from ``text``."""
    return _IGNORABLE_RE.sub("", text)


def first_default_ignorable(text: str) -> int:
    """Index of the first default-ignorable character in ``text``, or -1."""
    m = _IGNORABLE_RE.search(text)
    return m.start() if m else -1
