"""Keyed pseudonyms (HMAC-SHA256) with a different secret per recipient.

The key is looked up by the agreement's ``key_id``: first the environment variable
``WAREHOUSE_SHARE_KEY_<KEY_ID>``, then the password of the Airflow connection
``share_key_<key_id>``, then (local warehouse only) ``$WAREHOUSE_HOME/secrets/share_key_<key_id>``,
which `warehouse keys` writes for local development. It is never read from the repository, never logged and never written
to a manifest (only the key id and a fingerprint that cannot be reversed are). A missing or
short key stops the extract: there is no fallback.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from warehouse.settings import Settings

MIN_KEY_BYTES = 32


class MissingKeyError(RuntimeError):
    pass


def env_name(key_id: str) -> str:
    return "WAREHOUSE_SHARE_KEY_" + key_id.upper().replace("-", "_")


def _from_airflow(key_id: str) -> str | None:
    """The password of the Airflow connection ``share_key_<key_id>``, inside a task only
    (where the task SDK can reach Airflow's connections and secrets backends)."""
    if not os.environ.get("AIRFLOW_CTX_DAG_ID"):
        return None
    try:
        from airflow.sdk import Connection

        return Connection.get(f"share_key_{key_id}").password or None
    except Exception:  # noqa: BLE001 - no such connection: reported as a missing key
        return None


def local_key_path(settings: Settings, key_id: str) -> Path:
    return settings.secrets_dir / f"share_key_{key_id}"


def create_local_key(settings: Settings, key_id: str) -> Path:
    """A random key for the local warehouse (kept outside git), unless one exists."""
    from warehouse import secret_files

    path = local_key_path(settings, key_id)
    secret_files.read_or_create(path, 48)
    return path


def create_local_keys(settings: Settings) -> dict[str, Path]:
    """A local key for every agreement that names one (the local warehouse only)."""
    from warehouse.sharing.agreements import all_agreements

    ids = sorted({a.key_id for a in all_agreements() if a.key_id})
    return {key_id: create_local_key(settings, key_id) for key_id in ids}


def _from_local(settings: Settings | None, key_id: str) -> str | None:
    if settings is None or not settings.is_local:
        return None
    from warehouse import secret_files

    return secret_files.read(local_key_path(settings, key_id))


def get_key(key_id: str, settings: Settings | None = None) -> bytes:
    key = os.environ.get(env_name(key_id)) or _from_airflow(key_id) or _from_local(settings, key_id)
    if not key:
        raise MissingKeyError(
            f"no pseudonymisation key {key_id!r}: set {env_name(key_id)} or the password of "
            f"the Airflow connection share_key_{key_id} (at least {MIN_KEY_BYTES} bytes, "
            "e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`); for the "
            "local warehouse, `warehouse keys` creates one"
        )
    raw = key.encode()
    if len(raw) < MIN_KEY_BYTES:
        raise MissingKeyError(
            f"pseudonymisation key {key_id!r} is {len(raw)} bytes; at least {MIN_KEY_BYTES}"
        )
    return raw


def fingerprint(key: bytes) -> str:
    """Identifies which key was used (to spot a rotation) without revealing it."""
    return hmac.new(key, b"key-fingerprint", hashlib.sha256).hexdigest()[:12]


class Pseudonymiser:
    """``scope`` (extracts pass the period) makes pseudonyms unlinkable across scopes too: a
    person's rows of two years, linked by a stable pseudonym, would be a longer
    quasi-identifier than the one each file is k-anonymous on (see anonymity.py)."""

    def __init__(self, key: bytes, scope: str = "") -> None:
        self._key = key
        self._prefix = f"{scope}\x1e" if scope else ""

    def __call__(self, column: str, value: object) -> str | None:
        """Same value, column and scope -> same pseudonym for this recipient; unlinkable
        across recipients (different keys), columns and scopes."""
        if value is None:
            return None
        message = f"{self._prefix}{column}\x1f{value}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]
