"""Text every store and socket can carry, and names people cannot mistake for each other."""

import unicodedata

import emoji


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


EMOJI_MAX_LENGTH = 16


def is_emoji(text) -> bool:
    """True for exactly one emoji as Unicode defines them (a flag, a family, a skin-toned hand,
    a keycap, a subdivision flag), from the ``emoji`` package's copy of Unicode's emoji data;
    at most ``EMOJI_MAX_LENGTH`` code points. Other symbols (``﷽``, a blank Braille pattern),
    letters, two emoji, spaces and control characters are refused."""
    return isinstance(text, str) and 0 < len(text) <= EMOJI_MAX_LENGTH and emoji.is_emoji(text)


# Characters that change how a line reads without being seen: controls (newlines included),
# format characters (direction overrides and isolates, zero-width spaces and joiners) and line
# and paragraph separators.
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}


def is_plain_line(text: str) -> bool:
    """True for text that shows as what it is, on one line: no control, direction-changing,
    zero-width or line-breaking character. Joiners and tags inside an emoji (a family, a
    subdivision flag) are part of it and allowed."""
    return not any(
        unicodedata.category(c) in _INVISIBLE_CATEGORIES for c in emoji.replace_emoji(text, "")
    )
