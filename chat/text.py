"""Text every store and socket can carry."""


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
