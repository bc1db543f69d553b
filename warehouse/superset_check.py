"""`make bi-check`: start Superset on the local warehouse, ask for every chart's data through
Superset's own REST API (the chart's saved query context: GET /api/v1/chart/<id>/data/),
stop it, print ``superset_charts_ok=<n>/<m>``; non-zero unless every chart of the bundle
answered with rows."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from warehouse.settings import Settings
from warehouse.superset import (
    BUNDLE_DIR,
    HOST,
    PORT,
    SupersetError,
    admin_password,
    home,
    login,
    setup,
    start,
    stop,
)


def bundle_charts(bundle: Path = BUNDLE_DIR) -> dict[str, str]:
    """uuid -> chart title, for every chart in the bundle."""
    charts = {}
    for path in sorted((bundle / "charts").glob("*.yaml")):
        chart = yaml.safe_load(path.read_text())
        charts[str(chart["uuid"])] = chart["slice_name"]
    return charts


def chart_status(session, chart_id: int) -> tuple[bool, str]:  # type: ignore[no-untyped-def]
    """(ok, detail) for one chart: HTTP 200, every query without error and with rows."""
    resp = session.get(f"http://{HOST}:{PORT}/api/v1/chart/{chart_id}/data/", timeout=300)
    if resp.status_code != 200:
        return False, f"HTTP {resp.status_code}: {resp.text[:300]}"
    results = resp.json().get("result") or []
    if not results:
        return False, "no result"
    for result in results:
        if result.get("error") or result.get("status") not in (None, "success"):
            return False, f"{result.get('status')}: {str(result.get('error'))[:300]}"
        if not result.get("rowcount"):
            return False, "no rows"
    return True, f"{sum(r['rowcount'] for r in results)} rows"


def _superset_charts(session) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """uuid -> id of every chart Superset holds."""
    resp = session.get(
        f"http://{HOST}:{PORT}/api/v1/chart/",
        params={"q": "(columns:!(id,uuid),page_size:100)"},
        timeout=60,
    )
    resp.raise_for_status()
    return {str(row["uuid"]): row["id"] for row in resp.json()["result"]}


def _dashboard_chart_ids(session) -> set[int]:  # type: ignore[no-untyped-def]
    """Ids of the charts on the imported dashboard(s)."""
    base = f"http://{HOST}:{PORT}/api/v1/dashboard/"
    ids: set[int] = set()
    for dashboard in session.get(base, timeout=60).json()["result"]:
        resp = session.get(f"{base}{dashboard['id']}/charts", timeout=60)
        resp.raise_for_status()
        ids.update(chart["id"] for chart in resp.json()["result"])
    return ids


def check_charts(session, expected: dict[str, str]) -> int:  # type: ignore[no-untyped-def]
    """Print one line per chart of the bundle and the total; the number that passed (on the
    dashboard, and its data answered with rows)."""
    held = _superset_charts(session)
    on_dashboard = _dashboard_chart_ids(session)
    ok = 0
    for uuid, title in expected.items():
        if uuid not in held:
            passed, detail = False, "not in Superset (import failed?)"
        elif held[uuid] not in on_dashboard:
            passed, detail = False, "not on the dashboard"
        else:
            passed, detail = chart_status(session, held[uuid])
        ok += passed
        print(f"  {'ok  ' if passed else 'FAIL'} {title}: {detail}")
    print(f"superset_charts_ok={ok}/{len(expected)}")
    return ok


def _ensure_warehouse(settings: Settings) -> bool:
    """Start the local warehouse if it is down; True when this call started it."""
    if not settings.is_local:
        return False
    from warehouse.localdb import for_settings, start_local

    if for_settings(settings).is_running():
        return False
    start_local(settings)
    return True


def check(settings: Settings) -> int:
    expected = bundle_charts()
    started_db = _ensure_warehouse(settings)
    try:
        env = setup(settings)
        log = home(settings) / "bi-check-server.log"
        proc = start(env, log)
        try:
            ok = check_charts(login(admin_password(settings)), expected)
        finally:
            stop(proc)
    except SupersetError as exc:
        print(f"superset: {exc}", file=sys.stderr)
        print(f"superset_charts_ok=0/{len(expected)}")
        return 1
    finally:
        if started_db:
            from warehouse.localdb import for_settings

            for_settings(settings).stop()
    return 0 if expected and ok == len(expected) else 1


if __name__ == "__main__":
    from warehouse.settings import get_settings

    sys.exit(check(get_settings()))
