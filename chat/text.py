"""Text every store and socket can carry, and names people cannot mistake for each other."""

import functools
import hashlib
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


@functools.cache
def _prototypes() -> dict[str, str]:
    """Each character's prototype by Unicode's confusables data (UTS #39), from the
    confusable_homoglyphs package's copy of confusables.txt: a character and the prototype it
    is drawn like ("m" and "rn", "I" and "l", "0" and "O", Cyrillic "\u0430" and "a"). The
    package keeps
    each source-prototype pair both ways; prototypes are never sources, so in each group of
    look-alikes the prototype is the one every other is paired with (a multi-character sequence
    when there is one, else, for a lone pair, the smaller code point: the same group either
    way)."""
    from confusable_homoglyphs.confusables import confusables_data

    def plain(text: str) -> str:  # the package wraps right-to-left characters in LRM marks
        return text.replace("\u200e", "")

    paired = {
        plain(key): {plain(entry["c"]) for entry in entries}
        for key, entries in confusables_data.items()
    }
    prototypes = {}
    for char, others in paired.items():
        if len(char) != 1 or len(others) != 1:
            continue  # a sequence, or a prototype of several
        (other,) = others
        if len(other) > 1 or len(paired.get(other, ())) > 1 or other < char:
            prototypes[char] = other
    return prototypes


def _drawn_as(text: str) -> str:
    prototypes = _prototypes()
    return unicodedata.normalize("NFD", "".join(prototypes.get(c, c) for c in text))


def username_skeleton(name: str) -> str:
    """What a name looks like on screen: Unicode's confusable skeleton (UTS #39: decomposed,
    each character replaced by its prototype), then casefolded and without accents, and mapped
    again. "aIice" (capital i), "a1ice" and "alice", "rnallory" and "mallory", "b0b" and "bob",
    "davé" and "dave", and "\u0430lice" with a Cyrillic "a" all have one skeleton."""
    text = _drawn_as(unicodedata.normalize("NFD", name))
    text = unicodedata.normalize("NFD", text.casefold())
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    return _drawn_as(text).casefold()


# Scripts whose letters are confused with each other; a name mixing them is refused.
_CONFUSABLE_SCRIPTS = {"LATIN", "CYRILLIC", "GREEK"}


def username_looks(name: str) -> set[str]:
    """Digests of the skeletons of ``name`` as written, in lower case and in capitals: an "I"
    reads as "l" among capitals and as "i" in lower case, so "ALICE", "ALlCE" and "alice" share
    one. Two names sharing a digest look alike. (Digests: a skeleton can be several times
    longer than its name.)"""
    return {
        hashlib.sha256(username_skeleton(form).encode()).hexdigest()
        for form in {name, name.lower(), name.upper()}
    }


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


# Unicode's Default_Ignorable_Code_Point characters (DerivedCoreProperties.txt), which show as
# nothing: among them the Hangul fillers and the combining grapheme joiner, which are letters
# or marks by their category.
_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)  # fmt: skip


def _invisible(char: str) -> bool:
    point = ord(char)
    return unicodedata.category(char) in _INVISIBLE_CATEGORIES or any(
        low <= point <= high for low, high in _IGNORABLE
    )


def is_plain_line(text: str) -> bool:
    """True for text that shows as what it is, on one line: no control, direction-changing,
    zero-width, line-breaking or otherwise invisible character (a Hangul filler, a variation
    selector). Joiners, selectors and tags inside an emoji (a family, a subdivision flag) are
    part of it and allowed."""
    return not any(_invisible(c) for c in emoji.replace_emoji(text, ""))
