"""Superset settings for the compose stack. Superset receives only its own secret key and the
read-only ``bi_reader`` connection (``SUPERSET_WAREHOUSE_URI``, TLS required); register it
once with ``superset set-database-uri`` (see the README)."""

import os

SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]
SQLALCHEMY_DATABASE_URI = "sqlite:////app/superset_home/superset.db"
PREVENT_UNSAFE_DB_CONNECTIONS = False
