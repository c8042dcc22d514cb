"""Which file types a chat serves, and the headers every stored file is served with.

A file is served with the type it was checked as (never one guessed from its name), and only
images a browser shows as pictures are shown in the page; every other file is a download.
Types a browser runs or renders as a document (HTML, SVG, XML, JavaScript) are never accepted,
whatever the configuration says: a member's file must not become a page or a script on the
site's own domain. The same headers go on the S3 object (the CDN passes them on) and on the
local backend's responses.
"""

from django.utils.http import content_disposition_header

# Shown inline: decoded by the browser as pictures, never as documents.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# What a member's file must never be served as.
_ACTIVE_TYPES = frozenset(
    {
        "text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml",
        "text/javascript", "application/javascript", "application/ecmascript",
        "text/ecmascript", "application/x-javascript", "text/css", "text/xsl",
        "application/xslt+xml", "text/vtt", "application/x-shockwave-flash",
    }
)  # fmt: skip
# What the CDN and the local views send with every file: the browser must not guess another
# type, and a file opened on its own runs nothing and reaches nothing.
SANDBOX_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


def is_active(content_type: str) -> bool:
    """True for a type a browser may run or render as a document (HTML, SVG, any XML,
    JavaScript, CSS, ...): never accepted for a member's file."""
    base = content_type.split(";", 1)[0].strip().lower()
    if base in _ACTIVE_TYPES or base.endswith(("+xml", "/xml")):
        return True
    return any(word in base for word in ("html", "javascript", "ecmascript"))


def served_type(content_type: str) -> str:
    """The type a stored file is served as: its checked type, or, for a type a browser would
    run (a row from before such types were refused), a download of no type."""
    return "application/octet-stream" if is_active(content_type) else content_type


def disposition(content_type: str, filename: str) -> str:
    """``Content-Disposition`` for a stored file: inline for pictures, else a download; the
    name RFC 6266-encoded (ASCII, so it can be an S3 object's metadata too)."""
    return content_disposition_header(content_type not in INLINE_TYPES, filename)
