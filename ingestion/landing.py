"""What in a landing folder may be picked up, and where a delivered path may go.

The loader (``ingestion/loader.py``) asks these before and after a load: a name that is
not UTF-8 text is shown with its bad bytes replaced; an upload still in flight (named
``*.part``, ``*.tmp``, ``*.partial`` or ``.*``, or held open for writing by a process) is
left for a later run; a path is moved only into real ``processed/`` and ``rejected/``
folders beside it, opened without following links (the loader may run as root).
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ingestion.schema import Feed

if TYPE_CHECKING:
    from ingestion.registry import FileLoadResult


DONE_FOLDERS = ("processed", "rejected")  # beside the delivered paths: where they move


IN_FLIGHT_SUFFIXES = (".part", ".tmp", ".partial")  # an upload's name until it is complete


NAME_MAX = 255  # bytes of one file name (ext4, xfs, btrfs)


WRITERS_SCAN_SECONDS = 1.0


log = logging.getLogger(__name__)
_scans: dict[str, tuple[float, frozenset[str]]] = {}


class UnsafeFolder(RuntimeError):
    """A path's ``processed/`` or ``rejected/`` is not a real folder beside it (a symbolic
    link, a file): the path is neither loaded nor moved, and the run fails naming it."""


def name_is_text(path: Path) -> bool:
    """Whether the path's name is UTF-8 text (a name of other bytes reaches Python with
    surrogate escapes, which PostgreSQL and the logs cannot take)."""
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown_name(path: Path) -> str:
    """The path's name as recorded and logged: a name that is not UTF-8 has its bad bytes
    replaced (U+FFFD), so the audit row and the log lines can hold it."""
    if name_is_text(path):
        return path.name
    return os.fsencode(path.name).decode("utf-8", "replace")


def in_flight(name: str) -> bool:
    """Whether a name is an upload's until it is complete (renamed when written)."""
    return name.startswith(".") or name.endswith(IN_FLIGHT_SUFFIXES)


def gone_or_arriving(path: Path, quiet_seconds: float) -> bool:
    """Whether another run moved the path away, or it is still being delivered: a process
    holds it open for writing, or it changed less than ``quiet_seconds`` ago."""
    if not path.is_symlink() and not path.exists():
        return True
    if changed_within(path, quiet_seconds):
        log.warning("%s: changed in the last %g s; left for later", shown_name(path), quiet_seconds)
        return True
    if being_written(path):
        log.warning(
            "%s: open for writing (still being delivered); left for later", shown_name(path)
        )
        return True
    return False


def changed_within(path: Path, seconds: float) -> bool:
    """Whether the path (not a link's target) was written, or renamed into place, less
    than ``seconds`` ago (``WAREHOUSE_LANDING_QUIET_SECONDS``): for uploaders that close
    and reopen a file between parts, which ``being_written`` cannot see."""
    if seconds <= 0:
        return False
    try:
        st = path.lstat()
    except FileNotFoundError:
        return False
    # the inode's change time: every write and the rename into landing set it, and unlike
    # the modification time a sender cannot set it (an mtime in 2099, kept by `rsync -t`,
    # would have held the file back, unrecorded, until then)
    return time.time() - st.st_ctime < seconds


def being_written(path: Path) -> bool:
    """Whether a process holds the path open for writing (Linux: ``/proc/<pid>/fd``; only
    the processes this one may inspect, all of them when it runs as root).

    The scan covers the path's folder and is reused for ``WRITERS_SCAN_SECONDS`` when it
    saw no writer (a feed has hundreds of files: one scan per path took ~9 ms each on a
    slow machine, a pipeline run ~6 s); a path it saw open is scanned for again. A writer that closes the file between two parts, or opens one again just
    after the scan, is not seen: an uploader should write under an in-flight name
    (``in_flight``) and rename when done."""
    if path.is_symlink() or not path.is_file() or not Path("/proc/self/fd").is_dir():
        return False
    target, folder = os.path.realpath(path), os.path.realpath(path.parent)
    # a path the reused scan saw open is looked at again now: it may have been closed since
    return target in _written_in(folder) and target in _written_in(folder, fresh=True)


def _written_in(folder: str, fresh: bool = False) -> frozenset[str]:
    """The files directly in ``folder`` that some process holds open for writing."""
    now = time.monotonic()
    cached = _scans.get(folder)
    if cached and not fresh and now - cached[0] < WRITERS_SCAN_SECONDS:
        return cached[1]
    proc, prefix, found = Path("/proc"), folder + os.sep, set()
    for pid in os.listdir(proc):
        if not pid.isdigit():
            continue
        try:
            fds = os.listdir(proc / pid / "fd")
        except OSError:  # gone, or another user's
            continue
        for fd in fds:
            try:
                target = os.readlink(proc / pid / "fd" / fd)
                if not target.startswith(prefix) or os.sep in target[len(prefix) :]:
                    continue
                info = (proc / pid / "fdinfo" / fd).read_text()
            except OSError:
                continue
            flags = next(
                (ln.split()[1] for ln in info.splitlines() if ln.startswith("flags:")), "0"
            )
            if int(flags, 8) & (os.O_WRONLY | os.O_RDWR):
                found.add(target)
    result = frozenset(found)
    _scans[folder] = (now, result)
    return result


def check_done_folders(path: Path) -> None:
    """Refuse a path whose ``processed/`` or ``rejected/`` is not a real folder beside it.

    A symbolic link there would move delivered files wherever it points (the loader may
    run as root), and a file there could take nothing once the load had committed; so the
    path is not loaded at all, and stays in landing, until the folder is put right."""
    for folder in DONE_FOLDERS:
        target = path.parent / folder
        try:
            mode = target.lstat().st_mode
        except FileNotFoundError:
            continue  # made by the first move
        if stat.S_ISLNK(mode):
            what = "is a symbolic link"
        elif not stat.S_ISDIR(mode):
            what = "is not a folder"
        elif target.resolve().parent != path.parent.resolve():
            what = "resolves outside its landing folder"
        else:
            continue
        raise UnsafeFolder(f"{target} {what}: {shown_name(path)} was not loaded or moved")


def _with_suffix(name: str, suffix: str) -> str:
    """``name + suffix``, the name cut (at a character) so that the whole fits in a file
    name (255 bytes): a long name delivered twice must still move beside the first."""
    while len(os.fsencode(name + suffix)) > NAME_MAX and name:
        name = name[:-1]
    return name + suffix


def move(path: Path, folder: str, result: FileLoadResult) -> None:
    """Move a recorded path to ``processed/`` or ``rejected/`` (a symbolic link itself,
    never its target); a name already there gets the load id appended.

    The folder is opened without following a link and the path renamed into that open
    folder, so one swapped for a link after ``check_done_folders`` moves nothing out."""
    parent = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            os.mkdir(folder, dir_fd=parent)
        except FileExistsError:
            pass
        try:
            target = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
        except OSError as exc:  # ELOOP: a symbolic link; ENOTDIR: not a folder
            code = errno.errorcode.get(exc.errno or 0, "error")
            raise UnsafeFolder(
                f"{path.parent / folder} is not a real folder ({code}):"
                f" {shown_name(path)} was recorded (load {result.load_id}) but not moved"
            ) from None
        try:
            name = path.name
            try:
                os.stat(name, dir_fd=target, follow_symlinks=False)
                name = _with_suffix(path.name, f".load{result.load_id}")
            except FileNotFoundError:
                pass
            os.rename(path.name, name, src_dir_fd=parent, dst_dir_fd=target)
        finally:
            os.close(target)
    finally:
        os.close(parent)


def lock_key(path: Path, feed: Feed | None) -> str:
    """The advisory lock's name: the feed's, or the path's (its bytes escaped when they are
    not UTF-8, so that the lock query can send it)."""
    if feed:
        return f"feed:{feed.name}"
    resolved = os.fsencode(path.resolve(strict=False))
    return "path:" + resolved.decode("utf-8", "backslashreplace")


NO_FEED = Feed("unknown", "unknown", "a path whose name matches no feed", r"(?!)", ())


def unmatched_reason(path: Path) -> str:
    what = "directory" if path.is_dir() and not path.is_symlink() else "file"
    folder = shown_name(path.parent)
    if not name_is_text(path):
        size = len(os.fsencode(path.name))
        return f"{what} name is not UTF-8 text ({size} bytes; in folder {folder}/)"
    return f"{what} name matches no feed's naming pattern (in folder {folder}/)"


# -- what is waiting to be loaded (no database, no GX: the progress total reads it) ---------
def _entries(folder: Path) -> list[Path]:
    if not folder.is_dir() or folder.is_symlink():
        return []
    return sorted(
        p for p in folder.iterdir() if p.name not in DONE_FOLDERS and not in_flight(p.name)
    )


def pending_files(landing: Path, feed: Feed, period: str | None = None) -> list[Path]:
    """Delivered paths named like ``feed``'s files (whatever they are: a directory or a
    link named like a file is rejected by the loader), in delivery order."""
    files = sorted(
        (p for p in _entries(landing / feed.system) if feed.matches(p.name)),
        key=lambda p: feed.delivery_order(p.name),
    )
    if period:
        files = [p for p in files if feed.period_of(p.name) == period]
    return files


def unmatched_paths(landing: Path, system: str) -> list[Path]:
    """Paths in a system's folder named like none of that system's feeds."""
    from ingestion.feeds import ALL_FEEDS

    feeds = [f for f in ALL_FEEDS if f.system == system]
    return [p for p in _entries(landing / system) if not any(f.matches(p.name) for f in feeds)]


def stray_paths(landing: Path) -> list[Path]:
    """Paths directly in the landing folder that are not a system's folder."""
    from ingestion.feeds import ALL_FEEDS

    systems = {f.system for f in ALL_FEEDS}
    return [
        p for p in _entries(landing) if p.name not in systems or p.is_symlink() or not p.is_dir()
    ]
