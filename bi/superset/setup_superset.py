"""Set up a Superset whose metadata is already migrated (`superset db upgrade`, `superset init`):
the admin user, the dashboard bundle, and the warehouse connection. Runs in Superset's own
virtualenv (``.venv-superset``, or the compose image), never in the project's.

Usage: ``python setup_superset.py BUNDLE_DIR``. From the environment:
- ``SUPERSET_ADMIN_PASSWORD`` (required): the ``admin`` login's password (set on every run).
- ``SUPERSET_WAREHOUSE_URI`` (required): the ``bi_reader`` connection to the warehouse; it
  replaces the bundle's (which carries no password) and is stored encrypted.

Importing is idempotent: the bundle's dashboard, charts and datasets (found by their UUIDs)
are deleted first, so a run after the bundle changed gives exactly the bundle.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

ADMIN = "admin"
DATABASE_NAME = "warehouse"


def _required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        sys.exit(f"setup_superset: {name} is not set")
    return value


def read_bundle(bundle: Path, warehouse_uri: str) -> dict[str, str]:
    """The bundle as Superset's importer takes it (path inside the bundle -> YAML text), the
    warehouse database's URI replaced by ``warehouse_uri`` (an export has no password)."""
    files = sorted(p for p in bundle.rglob("*.yaml") if p.is_file())
    if not (bundle / "metadata.yaml").is_file():
        sys.exit(f"setup_superset: {bundle}/metadata.yaml not found (not a Superset bundle)")
    contents = {str(p.relative_to(bundle)): p.read_text() for p in files}
    for path, text in contents.items():
        config = yaml.safe_load(text)
        if path.startswith("databases/") and config["database_name"] == DATABASE_NAME:
            config["sqlalchemy_uri"] = warehouse_uri
            contents[path] = yaml.safe_dump(config, sort_keys=False)
    return contents


def ensure_admin(password: str):  # type: ignore[no-untyped-def]
    from superset import security_manager

    user = security_manager.find_user(username=ADMIN)
    if user is None:
        role = security_manager.find_role("Admin")
        user = security_manager.add_user(
            ADMIN, "Superset", "Admin", "admin@localhost", role, password=password
        )
        if not user:
            sys.exit("setup_superset: could not create the admin user")
    else:
        security_manager.reset_password(user.id, password)
    return security_manager.find_user(username=ADMIN)


def delete_bundle_objects(contents: dict[str, str]) -> None:
    """Drop what an earlier import of this bundle left (the importer never overwrites charts
    or datasets of a dashboard bundle)."""
    from superset import db
    from superset.connectors.sqla.models import SqlaTable
    from superset.models.dashboard import Dashboard
    from superset.models.slice import Slice

    for prefix, model in (("dashboards/", Dashboard), ("charts/", Slice), ("datasets/", SqlaTable)):
        uuids = [
            yaml.safe_load(text)["uuid"]
            for path, text in contents.items()
            if path.startswith(prefix)
        ]
        for obj in db.session.query(model).all():
            if str(obj.uuid) in uuids:
                db.session.delete(obj)
    db.session.commit()


def main(bundle: Path) -> None:
    admin_password = _required("SUPERSET_ADMIN_PASSWORD")
    warehouse_uri = _required("SUPERSET_WAREHOUSE_URI")
    contents = read_bundle(bundle, warehouse_uri)

    from flask import g
    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from superset import db
        from superset.commands.dashboard.importers.dispatcher import ImportDashboardsCommand
        from superset.utils.database import get_or_create_db

        g.user = ensure_admin(admin_password)
        db.session.commit()
        delete_bundle_objects(contents)
        ImportDashboardsCommand(contents, overwrite=True).run()
        get_or_create_db(DATABASE_NAME, warehouse_uri)
        db.session.commit()
        charts = sum(1 for path in contents if path.startswith("charts/"))
        print(f"setup_superset: admin ready; bundle imported ({charts} charts); database set")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: setup_superset.py BUNDLE_DIR")
    main(Path(sys.argv[1]))
