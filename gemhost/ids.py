"""Zone and device ids made from human names (imported cameras, devices), in one place.

An id must match the site file's slug rule (``[a-z0-9][a-z0-9_-]{0,63}``) and be unique in
its device; names come from a VMS or a cloud in any script, so accents are folded to ASCII
("Caméra" becomes "camera") before everything else turns into ``_``.
"""

from __future__ import annotations

import re
import unicodedata

MAX_ID = 64


def slug(text: str) -> str:
    """``text`` as ``[a-z0-9_]``, accents folded, at most 64 characters; "" when nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")[:MAX_ID].rstrip("_")


def unique(base: str, taken: set[str]) -> str:
    """``base``, or ``base_2``, ``base_3``, ... (still at most 64) when taken; added to ``taken``."""
    candidate, n = base, 2
    while candidate in taken:
        suffix = f"_{n}"
        candidate = base[:MAX_ID - len(suffix)].rstrip("_-") + suffix
        n += 1
    taken.add(candidate)
    return candidate


def slugify(name: str, taken: set[str], fallback: str = "zone") -> str:
    """A unique id for ``name``; ``fallback`` (slugged too) when the name has no usable letter."""
    return unique(slug(name) or slug(fallback) or "zone", taken)
