"""audit.extract_deliveries: one row per delivery (what was shared, with whom, when, until
when, and each file's delivery outcome), and the purge of deliveries past retention."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from warehouse.db import connect
from warehouse.settings import Settings

AUDIT_DDL = """
create schema if not exists audit;
create table if not exists audit.extract_deliveries (
    delivery_id bigint generated always as identity primary key,
    agreement_id text not null,
    recipient text not null,
    period text not null,
    level text not null,
    files jsonb not null,
    total_rows integer not null,
    manifest_sha256 text not null,
    key_id text,
    key_fingerprint text,
    delivered_to text not null,
    code_version text not null,
    delivered_by text not null default current_user,
    delivered_at timestamptz not null default now(),
    expires_on date not null
);
alter table audit.extract_deliveries add column if not exists purged_at timestamptz;
-- delivered, or failed (files[].delivery says which file failed, after how many attempts)
alter table audit.extract_deliveries add column if not exists status text not null
    default 'delivered';
alter table audit.extract_deliveries add column if not exists file_deliveries jsonb;
"""


def log_delivery(  # type: ignore[no-untyped-def]
    conn, manifest: dict, manifest_sha256: str, delivered_to: str, status: str, outcomes: list
) -> int:
    """The delivery's row in audit.extract_deliveries, with each file's outcome."""
    conn.execute(AUDIT_DDL)
    (delivery_id,) = conn.execute(
        """insert into audit.extract_deliveries (agreement_id, recipient, period, level,
            files, total_rows, manifest_sha256, key_id, key_fingerprint, delivered_to,
            code_version, expires_on, status, file_deliveries)
        values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
            current_date + %s::integer, %s, %s)
        returning delivery_id""",
        [
            manifest["agreement"],
            manifest["recipient"],
            manifest["period"],
            manifest["level"],
            json.dumps(manifest["files"]),
            sum(f["rows"] for f in manifest["files"]),
            manifest_sha256,
            manifest["key_id"],
            manifest["key_fingerprint"],
            delivered_to,
            manifest["code_version"],
            manifest["retention_days"],
            status,
            json.dumps(outcomes),
        ],
    ).fetchone()
    return delivery_id


def purge_expired(settings: Settings, today: Any) -> list[Path]:
    """Remove outbox deliveries past their agreement's retention (``expires_on`` before
    ``today``) and record when; the audit rows stay, so what was shared remains known."""
    removed = []
    with connect(settings) as conn:
        conn.execute(AUDIT_DDL)
        rows = conn.execute(
            """select delivery_id, delivered_to from audit.extract_deliveries as d
            where expires_on < %s and purged_at is null
                and not exists (  -- a later delivery to the same folder is still retained
                    select 1 from audit.extract_deliveries as n
                    where n.delivered_to = d.delivered_to and n.expires_on >= %s
                )
            order by delivery_id""",
            [today, today],
        ).fetchall()
        outbox = settings.outbox_dir.resolve()
        for delivery_id, target in rows:
            folder = Path(target)
            if folder.resolve().is_relative_to(outbox) and folder.exists():
                shutil.rmtree(folder)
                removed.append(folder)
            conn.execute(
                "update audit.extract_deliveries set purged_at = now() where delivery_id = %s",
                [delivery_id],
            )
    return removed
