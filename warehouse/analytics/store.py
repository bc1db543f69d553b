"""Reading marts into pandas and writing result tables into the ``analytics`` schema."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from warehouse.db import connect
from warehouse.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

SCHEMA = "analytics"


def read_sql(settings: Settings, sql: str, params: tuple | dict | None = None) -> pd.DataFrame:
    """A query's rows as a DataFrame (numeric columns as floats)."""
    import pandas as pd

    with connect(settings) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        names = [d.name for d in cur.description or []]
        frame = pd.DataFrame(cur.fetchall(), columns=names)
    for col in frame.columns:
        if frame[col].dtype == object and frame[col].map(_is_decimal).any():
            frame[col] = pd.to_numeric(frame[col])
    return frame


def _is_decimal(value: object) -> bool:
    from decimal import Decimal

    return isinstance(value, Decimal)


def _ensure_table(conn, table: str, columns: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """``analytics.<table>`` with exactly ``columns``: kept when it has them (the dbt
    staging view reading it stays), else dropped with that view and created (the step's
    dbt build recreates the view right after)."""
    conn.execute(f"create schema if not exists {SCHEMA}")
    have = [
        r[0]
        for r in conn.execute(
            "select column_name from information_schema.columns "
            "where table_schema = %s and table_name = %s order by ordinal_position",
            (SCHEMA, table),
        )
    ]
    if have != list(columns):
        ddl = ", ".join(f"{name} {pg_type}" for name, pg_type in columns.items())
        conn.execute(f"drop table if exists {SCHEMA}.{table} cascade")
        conn.execute(f"create table {SCHEMA}.{table} ({ddl})")


def write_table(
    settings: Settings, table: str, frame: pd.DataFrame, columns: dict[str, str]
) -> int:
    """Replace ``analytics.<table>`` with ``frame`` in one transaction (``columns``: name ->
    PostgreSQL type, in order). A re-run with the same input leaves the same table."""
    buffer = io.StringIO()
    frame[list(columns)].to_csv(buffer, index=False, header=False, na_rep="\\N")
    with connect(settings) as conn:
        _ensure_table(conn, table, columns)
        conn.execute(f"truncate {SCHEMA}.{table}")
        copy_sql = f"copy {SCHEMA}.{table} from stdin with (format csv, null '\\N')"
        with conn.cursor().copy(copy_sql) as copy:
            copy.write(buffer.getvalue())
    return len(frame)


def replace_rows(
    settings: Settings,
    table: str,
    frame: pd.DataFrame,
    columns: dict[str, str],
    key: dict[str, str],
) -> int:
    """Replace the rows of ``analytics.<table>`` matching ``key`` (column -> value) with
    ``frame``, creating the table if needed: one evaluation re-run replaces only itself."""
    where = " and ".join(f"{name} = %s" for name in key)
    buffer = io.StringIO()
    frame[list(columns)].to_csv(buffer, index=False, header=False, na_rep="\\N")
    with connect(settings) as conn:
        _ensure_table(conn, table, columns)
        conn.execute(f"delete from {SCHEMA}.{table} where {where}", tuple(key.values()))
        copy_sql = f"copy {SCHEMA}.{table} from stdin with (format csv, null '\\N')"
        with conn.cursor().copy(copy_sql) as copy:
            copy.write(buffer.getvalue())
    return len(frame)
