"""A partner's delivery by SFTP, end to end: ``share`` writes the extract and the district's
JSNA pack, sends them to a real SFTP server (started here on 127.0.0.1) and
``audit.extract_deliveries`` records each file's outcome; a server with the wrong host key
is refused and the failure is recorded too."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.sftp_server import USER, SftpServer, make_keys
from warehouse.db import connect
from warehouse.sharing.agreements import Delivery, get_agreement
from warehouse.sharing.extract import share
from warehouse.sharing.periods import ShareError

pytestmark = pytest.mark.integration

PERIOD = "2008-09"


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "sftp_root"
    (root / "inbox").mkdir(parents=True)
    keys, host_key, client_key = make_keys(tmp_path)
    srv = SftpServer(root, host_key, client_key).start()
    srv.keys = keys
    yield srv
    srv.stop()


def _connection(monkeypatch, server, host_key: str) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_PARTNER_SFTP",
        json.dumps(
            {
                "conn_type": "sftp",
                "host": "127.0.0.1",
                "port": server.port,
                "login": USER,
                "extra": {"key_file": str(server.keys.client_key_file), "host_key": host_key},
            }
        ),
    )


def _by_sftp():
    agreement = get_agreement("csp_bolton")
    delivery = Delivery(method="sftp", sftp_conn_id="partner_sftp", remote_path="/inbox")
    return agreement.model_copy(update={"delivery": delivery})


def _audit(settings):
    with connect(settings) as conn:
        return conn.execute(
            """select status, delivered_to, file_deliveries from audit.extract_deliveries
            where agreement_id = 'csp_bolton' order by delivery_id desc limit 1"""
        ).fetchone()


def test_the_extract_and_its_pack_arrive_whole_and_checksum_verified(
    warehouse_copy, server, monkeypatch
):
    _connection(monkeypatch, server, server.keys.host_key_line)
    delivery = share(warehouse_copy, _by_sftp(), PERIOD)
    arrived = server.state.root / "inbox" / "csp_bolton" / PERIOD
    manifest = json.loads((arrived / "manifest.json").read_text())
    entries = manifest["files"] + manifest["report"]
    assert {e["file"] for e in manifest["report"]} == {
        "jsna_pack_E08000001.html",
        "jsna_pack_E08000001.pdf",
    }
    for e in entries:  # what the partner checks on receipt
        assert hashlib.sha256((arrived / e["file"]).read_bytes()).hexdigest() == e["sha256"]
    assert sorted(p.name for p in arrived.iterdir()) == sorted(
        p.name for p in delivery.folder.iterdir()
    )
    status, delivered_to, files = _audit(warehouse_copy)
    assert status == "delivered" and delivered_to.startswith("sftp://partner@127.0.0.1:")
    assert {f["file"] for f in files} == {e["file"] for e in entries} | {"manifest.json"}
    assert {f["status"] for f in files} == {"delivered"}


def test_a_server_with_the_wrong_host_key_is_refused_and_the_failure_recorded(
    warehouse_copy, server, monkeypatch
):
    _connection(monkeypatch, server, server.keys.other_key_line)
    with pytest.raises(ShareError, match="host key changed"):
        share(warehouse_copy, _by_sftp(), PERIOD)
    assert not (server.state.root / "inbox" / "csp_bolton").exists()
    assert server.state.seen == []
    status, _, files = _audit(warehouse_copy)
    assert status == "failed" and files
    assert {f["status"] for f in files} == {"failed"}
    assert all("host key changed" in f["error"] for f in files)
