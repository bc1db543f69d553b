"""Rows of another period: a row whose own month is not in its file's period."""

from __future__ import annotations

import psycopg
from psycopg import sql

from ingestion.load_records import LINE_COLUMN, STAGING_SCHEMA, RowFailure, ident
from ingestion.schema import Feed


def outside_file_period(
    conn: psycopg.Connection, feed: Feed, table: str, period: str | None
) -> list[RowFailure]:
    """Rows whose period column names a month outside the file's period.

    ``gmac_crime_2008-06.csv`` holding April 2006 rows would otherwise load them as June
    2008's delivery: counted twice beside April 2006's own file, and dropped with June
    2008 when it is corrected. A value that is not a month at all is the suite's to report
    (its pattern), not this check's.
    """
    if feed.period_column is None or period is None:
        return []
    column_name = feed.column(feed.period_column).db_name
    column = sql.Identifier(column_name)
    rows = conn.execute(
        sql.SQL(
            "select {line}, {column} from {table}"
            " where {column} ~ '^[0-9]{{4}}-[0-9]{{2}}$' and not {column} = any(%s)"
            " order by {line}"
        ).format(
            line=sql.Identifier(LINE_COLUMN), column=column, table=ident(STAGING_SCHEMA, table)
        ),
        [feed.months_of(period)],
    ).fetchall()
    return [
        RowFailure(line, column_name, value, f"month {value} is not in the file's period {period}")
        for line, value in rows
    ]
