"""Connections to the warehouse (local or external, from ``Settings``)."""

from __future__ import annotations

import psycopg

from warehouse.settings import Settings


def connect(settings: Settings, **kwargs: object) -> psycopg.Connection:
    info = settings.conninfo()
    return psycopg.connect(
        **info.kwargs(), application_name="warehouse", connect_timeout=10, **kwargs
    )
