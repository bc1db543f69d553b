"""docker-compose.yml cannot start here (no Docker engine): check it parses and that every
file it mounts or builds from exists."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_production_services():
    services = set(_compose()["services"])
    assert {
        "warehouse",
        "airflow-db",
        "redis",
        "airflow-init",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "airflow-worker",
        "superset",
    } <= services


def test_every_mounted_and_built_file_exists():
    compose = _compose()
    named_volumes = set(compose.get("volumes") or {})
    checked = 0
    for name, service in compose["services"].items():
        build = service.get("build")
        if build:
            context = ROOT / build.get("context", ".")
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), name
            checked += 1
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source in named_volumes:
                continue
            assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            checked += 1
        if "env_file" in service:
            assert (ROOT / "docker" / "env.example").is_file()
    assert checked >= 5


def test_dockerfile_copies_only_existing_paths():
    dockerfile = (ROOT / "docker" / "airflow.Dockerfile").read_text().splitlines()
    for line in dockerfile:
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (ROOT / src).exists(), src
