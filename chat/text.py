"""Text every store and socket can carry, and names people cannot mistake for each other."""

import unicodedata


def decimal_id(value) -> str | None:
    """``value`` as a numeric id (a user id, a seq): ASCII digits that fit a 64-bit integer,
    else None (``"²"`` passes ``str.isdigit`` and fails ``int``; 30 digits overflow)."""
    text = str(value).strip()
    return text if text.isascii() and text.isdigit() and len(text) < 19 else None


def is_storable(text: str) -> bool:
    """True for text every store and socket can carry: no NUL (PostgreSQL refuses it) and no
    unpaired surrogate (it cannot be encoded as UTF-8)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# Letters of Cyrillic and Greek drawn like Latin ones (lower case; names are casefolded first),
# by their Unicode names.
_LOOKALIKES = str.maketrans(
    {
        unicodedata.lookup(f"{script} SMALL LETTER {name}"): latin
        for script, letters in (
            ("CYRILLIC", "A:a VE:b IE:e IO:e KA:k EM:m EN:h O:o ER:p ES:c TE:t U:y HA:x "
                         "BYELORUSSIAN-UKRAINIAN_I:i YI:i JE:j DZE:s KOMI_DE:d QA:q WE:w SHHA:h "
                         "PALOCHKA:l"),
            ("GREEK", "ALPHA:a BETA:b EPSILON:e ETA:n IOTA:i KAPPA:k NU:v OMICRON:o RHO:p TAU:t "
                      "UPSILON:u CHI:x"),
        )
        for name, latin in (pair.replace("_", " ").split(":") for pair in letters.split())
    }
)  # fmt: skip
# Scripts whose letters are confused with each other; a name mixing them is refused.
_CONFUSABLE_SCRIPTS = {"LATIN", "CYRILLIC", "GREEK"}


def username_skeleton(name: str) -> str:
    """What a name looks like: casefolded, with Cyrillic and Greek look-alikes read as the Latin
    letters they resemble. Two names with one skeleton look the same on screen."""
    return name.casefold().translate(_LOOKALIKES)


def mixes_scripts(name: str) -> bool:
    """True when the name's letters come from more than one of Latin, Cyrillic and Greek (the
    mark of a look-alike: "alice" spelled with a Cyrillic "a")."""
    scripts = {
        unicodedata.name(c, "").split(" ", 1)[0] for c in name if c.isalpha()
    } & _CONFUSABLE_SCRIPTS
    return len(scripts) > 1


# What an emoji is made of: symbols (So), skin-tone modifiers (Sk), the keycap's enclosing mark
# (Me), the joiner and variation selectors; a keycap may start with a digit, "#" or "*".
_EMOJI_CATEGORIES = {"So", "Sk", "Me"}
_EMOJI_GLUE = {"\u200d", "\ufe0e", "\ufe0f"}
EMOJI_MAX_LENGTH = 16


def is_emoji(text) -> bool:
    """True for one emoji as keyboards type them (a flag, a family, a skin-toned hand, a
    keycap): symbol characters and their modifiers only, at most ``EMOJI_MAX_LENGTH`` code
    points. Letters, spaces, markup and control characters are refused."""
    if not isinstance(text, str) or not 0 < len(text) <= EMOJI_MAX_LENGTH:
        return False
    if text[0] in "0123456789#*":
        return (
            len(text) > 1
            and "\u20e3" in text
            and all(c in _EMOJI_GLUE or c == "\u20e3" for c in text[1:])
        )
    return unicodedata.category(text[0]) == "So" and all(
        unicodedata.category(c) in _EMOJI_CATEGORIES or c in _EMOJI_GLUE for c in text
    )
