# Superset for the compose stack: the release `make superset` pins (bi/superset/requirements.txt)
# plus the PostgreSQL driver, which the image does not ship. Configuration, bundle and
# entrypoint are mounted from bi/superset (docker-compose.yml).
FROM apache/superset:6.1.0
USER root
RUN . /app/.venv/bin/activate && uv pip install --no-cache psycopg2-binary==2.9.13
USER superset
