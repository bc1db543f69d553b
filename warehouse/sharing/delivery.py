"""Delivering a written extract: the outbox folder itself, or a partner's SFTP server.

SFTP: key authentication only; the server's host key must be the one pinned for the
connection (an unknown or a changed key is refused, never learned); every file is uploaded
under a temporary name, its sha256 is checked on the server's copy (read back), and only
then is it renamed into place, so a partner never sees half a file; the manifest goes last.
A dropped connection is retried (a new connection, the file again from the start); a refused
host key is not. Each file's outcome (delivered or failed, attempts, error) is returned for
``audit.extract_deliveries``.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import paramiko

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"


class DeliveryError(RuntimeError):
    """A delivery that did not complete; ``results`` says which files arrived."""

    def __init__(self, message: str, results: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.results = results or []


class HostKeyRefused(DeliveryError):
    pass


@dataclass(frozen=True)
class SftpTarget:
    host: str
    port: int
    username: str
    key_file: Path  # the client's private key (key authentication only)
    host_key: str | None  # the server's public key, "ssh-ed25519 AAAA..." (None: unknown)
    remote_path: str
    retries: int = 3
    backoff_seconds: float = 0.5
    timeout_seconds: float = 15.0


@dataclass
class FileResult:
    file: str
    sha256: str
    remote: str
    status: str = "failed"
    attempts: int = 0
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "sha256": self.sha256,
            "remote": self.remote,
            "status": self.status,
            "attempts": self.attempts,
            "error": self.error,
        }


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pinned_key(target: SftpTarget) -> paramiko.PKey | None:
    if not target.host_key:
        return None
    try:
        kind, blob = target.host_key.split()[:2]
        return paramiko.PKey.from_type_string(kind, base64.b64decode(blob))
    except (ValueError, paramiko.SSHException) as exc:
        raise DeliveryError(
            f"sftp {target.host}: the pinned host key is unreadable: {exc}"
        ) from None


def open_sftp(target: SftpTarget) -> paramiko.SSHClient:
    """An SSH client to the target, the host key checked against the pinned one."""
    client = paramiko.SSHClient()
    name = target.host if target.port == 22 else f"[{target.host}]:{target.port}"
    pinned = _pinned_key(target)
    if pinned is not None:
        client.get_host_keys().add(name, pinned.get_name(), pinned)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())  # unknown: refused
    try:
        client.connect(
            target.host,
            port=target.port,
            username=target.username,
            key_filename=str(target.key_file),
            look_for_keys=False,
            allow_agent=False,
            timeout=target.timeout_seconds,
            banner_timeout=target.timeout_seconds,
            auth_timeout=target.timeout_seconds,
        )
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise HostKeyRefused(
            f"sftp {name}: the server's host key changed ({exc.key.get_name()} "
            f"{exc.key.fingerprint}); refused"
        ) from None
    except paramiko.SSHException as exc:
        client.close()
        if "not found in known_hosts" in str(exc):  # RejectPolicy: no pinned key
            raise HostKeyRefused(f"sftp {name}: unknown host key; refused ({exc})") from None
        raise
    return client


def _mkdirs(sftp: paramiko.SFTPClient, remote: str) -> None:
    path = PurePosixPath(remote)
    for parent in [*reversed(path.parents), path]:
        if str(parent) in {"/", "."}:
            continue
        try:
            sftp.stat(str(parent))
        except FileNotFoundError:
            sftp.mkdir(str(parent))


def _remote_sha256(sftp: paramiko.SFTPClient, path: str) -> str:
    digest = hashlib.sha256()
    with sftp.open(path, "rb") as f:
        f.prefetch()
        while chunk := f.read(1 << 16):
            digest.update(chunk)
    return digest.hexdigest()


def _put_one(sftp: paramiko.SFTPClient, local: Path, result: FileResult) -> None:
    """Upload under a temporary name, check the server copy's sha256, rename into place."""
    final = result.remote
    temp = str(PurePosixPath(final).with_name(f".{local.name}.partial"))
    sftp.put(str(local), temp, confirm=True)
    remote_hash = _remote_sha256(sftp, temp)
    if remote_hash != result.sha256:
        sftp.remove(temp)
        raise DeliveryError(
            f"{local.name}: sha256 on the server {remote_hash} differs from "
            f"the manifest's {result.sha256}"
        )
    sftp.posix_rename(temp, final)  # atomic, replaces an earlier delivery of the same file


RETRYABLE = (OSError, EOFError, socket.timeout, paramiko.SSHException)


def deliver_sftp(target: SftpTarget, folder: Path, sub_path: str) -> list[FileResult]:
    """Every file of ``folder`` to ``<remote_path>/<sub_path>/``, the manifest last."""
    remote_dir = f"{target.remote_path.rstrip('/')}/{sub_path.strip('/')}"
    files = sorted(p for p in folder.iterdir() if p.is_file())
    files.sort(key=lambda p: p.name == MANIFEST)  # the manifest last: the delivery is whole
    results = [FileResult(p.name, sha256_file(p), f"{remote_dir}/{p.name}") for p in files]
    pending = list(zip(files, results, strict=True))
    attempt = 0
    while pending and attempt < target.retries:
        attempt += 1
        try:
            _attempt(target, remote_dir, pending)
        except HostKeyRefused as exc:
            for _, r in pending:
                r.attempts, r.error = attempt, str(exc)
            raise DeliveryError(str(exc), [r.as_dict() for r in results]) from None
        except (*RETRYABLE, DeliveryError) as exc:
            log.warning("sftp %s:%d attempt %d failed: %s", target.host, target.port, attempt, exc)
            for _, r in pending:
                r.error = f"attempt {attempt}: {type(exc).__name__}: {exc}"
            time.sleep(target.backoff_seconds * attempt)
        pending = [(p, r) for p, r in pending if r.status != "delivered"]
    return results


def _attempt(target: SftpTarget, remote_dir: str, pending: list[tuple[Path, FileResult]]) -> None:
    client = open_sftp(target)
    try:
        sftp = client.open_sftp()
        _mkdirs(sftp, remote_dir)
        for local, result in pending:
            result.attempts += 1
            _put_one(sftp, local, result)
            result.status, result.error = "delivered", None
        sftp.close()
    finally:
        client.close()


def target_from_connection(conn_id: str, remote_path: str) -> SftpTarget:
    """The SFTP target of an Airflow connection: host, port, login, and in its extra
    ``key_file`` (the private key) and ``host_key`` (the pinned server key)."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    extra = conn.extra_dejson
    missing = [k for k in ("key_file", "host_key") if not extra.get(k)]
    if missing or not conn.host or not conn.login:
        raise DeliveryError(
            f"Airflow connection {conn_id!r}: needs host, login and extra "
            f"key_file and host_key (missing: {', '.join(missing) or 'host/login'}"
            "); password logins and unpinned host keys are not used"
        )
    return SftpTarget(
        conn.host,
        int(conn.port or 22),
        conn.login,
        Path(extra["key_file"]),
        extra["host_key"],
        remote_path,
        int(extra.get("retries", 3)),
    )


def deliver(agreement: Any, folder: Path) -> tuple[str, list[dict[str, Any]]]:
    """Where the delivery went and each file's outcome: the outbox folder is the delivery
    by default; an agreement with ``delivery: {method: sftp}`` goes to its partner's server."""
    if agreement.delivery.method == "outbox":
        return str(folder), [
            {
                "file": p.name,
                "sha256": sha256_file(p),
                "remote": str(p),
                "status": "delivered",
                "attempts": 1,
                "error": None,
            }
            for p in sorted(folder.iterdir())
        ]
    target = target_from_connection(agreement.delivery.sftp_conn_id, agreement.delivery.remote_path)
    sub_path = f"{agreement.id}/{folder.name}"
    try:
        results = [r.as_dict() for r in deliver_sftp(target, folder, sub_path)]
    except DeliveryError as exc:
        results = exc.results
    remote = f"{target.remote_path.rstrip('/')}/{sub_path}"
    return f"sftp://{target.username}@{target.host}:{target.port}{remote}", results
