#!/usr/bin/env bash
# The compose superset service: migrate the metadata, import the JSNA dashboard bundle and
# register the bi_reader connection (from SUPERSET_WAREHOUSE_URI), then serve on 8088.
set -euo pipefail
superset db upgrade
superset init
python /app/bi/setup_superset.py /app/bi/bundle
exec /usr/bin/run-server.sh
