"""Superset settings for the compose stack. Add the warehouse as a database in the UI with
postgresql://bi_reader:<BI_READER_PASSWORD>@warehouse:5432/warehouse (read-only role)."""

import os

SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]
SQLALCHEMY_DATABASE_URI = "sqlite:////app/superset_home/superset.db"
PREVENT_UNSAFE_DB_CONNECTIONS = False
