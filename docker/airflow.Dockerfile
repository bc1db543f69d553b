# Airflow 3 image with the project installed (same pins as local: constraints.txt).
FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 DO_NOT_TRACK=1 GX_ANALYTICS_ENABLED=false \
    SODA_CORE_TELEMETRY_ENABLED=false AIRFLOW_HOME=/opt/airflow
RUN apt-get update && apt-get install -y --no-install-recommends build-essential libpq-dev \
    && rm -rf /var/lib/apt/lists/* && useradd --create-home --uid 50000 airflow
WORKDIR /opt/project
COPY pyproject.toml constraints.txt README.md ./
COPY warehouse ./warehouse
COPY ingestion ./ingestion
# editable: the package finds dags/, dbt_project/, agreements/ beside it (PROJECT_ROOT)
RUN pip install -c constraints.txt -e . "apache-airflow-providers-celery" "psycopg2-binary" redis
COPY dags ./dags
COPY dbt_project ./dbt_project
COPY expectations ./expectations
COPY agreements ./agreements
RUN mkdir -p /opt/airflow /opt/project/.warehouse && chown -R airflow /opt/airflow /opt/project
USER airflow
ENTRYPOINT ["airflow"]
