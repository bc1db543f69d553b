"""Local secrets (passwords, pseudonymisation keys) and private files (partner deliveries),
kept outside git: the one place that creates files only their owner can read.

One way to make them: the folder is created 0700 and each file 0600 at creation
(``O_CREAT | O_EXCL`` with the mode, never written first and chmod-ed after), so no other
user can read a secret even for a moment; two processes creating the same secret at once
both end up with the one that won.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def read_or_create(path: Path, nbytes: int = 24) -> str:
    """The secret in ``path``, made (random, URL-safe) on first use."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    if path.exists():
        return path.read_text().strip()
    tmp = _private_file(path, secrets.token_urlsafe(nbytes))
    try:
        os.link(tmp, path)  # whole file or nothing; the first process to link wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()


def _private_file(path: Path, value: str) -> Path:
    """A new 0600 file beside ``path`` holding ``value``, flushed to disk."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    write_private(tmp, (value + "\n").encode(), exclusive=True, sync=True)
    return tmp


def open_private(path: Path, *, append: bool = False) -> int:
    """A file descriptor on ``path``, a file only this user can read: created 0600 (the mode
    given to ``open``, never chmod-ed after); truncated, or ``append``-ed to."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    return os.open(path, flags, 0o600)


def private_dir(path: Path) -> Path:
    """``path`` made (with its parents) a folder only this user can enter: 0700."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def write_private(path: Path, data: bytes, *, exclusive: bool = False, sync: bool = False) -> None:
    """Write ``data`` to a file only this user can read: created 0600 (the mode given to
    ``open``, never chmod-ed after). ``exclusive``: fail if the file exists (else it is
    truncated); ``sync``: flushed to disk before returning."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        if sync:
            f.flush()
            os.fsync(f.fileno())


def read(path: Path) -> str | None:
    """The secret in ``path``, or None when there is none yet."""
    return path.read_text().strip() if path.exists() else None


def write(path: Path, value: str) -> None:
    """Replace the secret in ``path`` (a new file 0600, renamed over the old one)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _private_file(path, value).replace(path)
