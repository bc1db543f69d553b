"""Superset settings, the same for `make superset` (local, .venv-superset) and the compose stack.

Secrets come from the environment only, never from this file:
- ``SUPERSET_SECRET_KEY`` (required): signs sessions and encrypts the stored database passwords.
- ``SUPERSET_METADATA_URI`` (optional): Superset's own metadata database; by default SQLite in
  ``SUPERSET_HOME`` (``.warehouse/superset`` locally, ``/app/superset_home`` in compose).
The warehouse connection (``bi_reader``) is registered by ``bi/superset/setup_superset.py``
from ``SUPERSET_WAREHOUSE_URI``; Superset stores it encrypted with the secret key.
"""

import os
from pathlib import Path

SECRET_KEY = os.environ.get("SUPERSET_SECRET_KEY", "")
if len(SECRET_KEY) < 24:
    raise RuntimeError("SUPERSET_SECRET_KEY must be set (at least 24 random characters)")

_HOME = Path(os.environ.get("SUPERSET_HOME", "/app/superset_home"))
SQLALCHEMY_DATABASE_URI = os.environ.get(
    "SUPERSET_METADATA_URI", f"sqlite:///{_HOME / 'superset.db'}?check_same_thread=false"
)

# The warehouse is a private PostgreSQL (127.0.0.1 locally, the compose network otherwise).
PREVENT_UNSAFE_DB_CONNECTIONS = False
# A single-process local server: simple in-memory caches, no Celery, no Redis.
CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 300}
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
FILTER_STATE_CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 3600}
EXPLORE_FORM_DATA_CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 3600}
RATELIMIT_STORAGE_URI = "memory://"
# Every query runs as bi_reader (read-only); the bundle's database allows no DML, CTAS or upload.
# The charts pick "the latest financial year" with a sub-query in their WHERE clause.
FEATURE_FLAGS = {"ALLOW_ADHOC_SUBQUERY": True, "ENABLE_TEMPLATE_PROCESSING": False}
