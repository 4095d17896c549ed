"""Replacing a file whole: a crash or a full disk leaves the old file or the new one, never half.

Used for everything the host writes that a half-written copy would break: the token file
(a torn one would lock every integration out), the site file after an import, and the
drivers' state (account bindings, ids already published). The new content goes to a
temporary file in the same folder (so the rename cannot cross file systems), is flushed to
disk, and then renamed over the old one. The old file's permissions are kept, so a site file
the user made private stays private; ``mode`` sets them explicitly (tokens: owner only).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def replacing(path: Path, *, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; write it inside the block. On a normal exit it
    replaces ``path``; on an exception (a failed check of the new content) it is removed and
    ``path`` is untouched."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        elif path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically."""
    with replacing(path, mode=mode) as tmp:
        # created owner-only when a mode is asked for, so the secret is never readable in between
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if mode is not None else 0o666)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
