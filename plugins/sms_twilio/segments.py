"""SMS segment counting (GSM 03.38): what the customer's phone and your bill will see.

GSM-7 messages hold 160 characters in one segment, 153 per segment when concatenated;
characters of the extension table (€ [ ] { } ~ ^ | \\) count twice. One character outside
GSM-7 (é is in it; ê, ç capital, emoji are not) switches the whole message to UCS-2:
70 characters, 67 per concatenated segment (and emoji take two UTF-16 units).
"""

from __future__ import annotations

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENSION = set("^{}\\[~]|€\f")


# Typographic spaces (Babel's French "1 234,56 €" uses U+202F) are not GSM-7: one of them
# would switch a whole SMS to UCS-2 and halve its length. They are sent as plain spaces.
_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " "})


def normalise(text: str) -> str:
    return text.translate(_SPACES)


def encoding(text: str) -> str:
    return "GSM-7" if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text) else "UCS-2"


def count(text: str) -> tuple[int, str, str | None]:
    """(segments, encoding, first character forcing UCS-2 or None)."""
    text = normalise(text)
    enc = encoding(text)
    if enc == "GSM-7":
        units = sum(2 if c in GSM7_EXTENSION else 1 for c in text)
        single, multi = 160, 153
        culprit = None
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi = 70, 67
        culprit = next(c for c in text if c not in GSM7_BASIC and c not in GSM7_EXTENSION)
    if units <= single:
        return 1, enc, culprit
    return -(-units // multi), enc, culprit
