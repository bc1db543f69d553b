"""SFTP delivery against a real server (asyncssh on 127.0.0.1, started here): key
authentication, the pinned host key (unknown or changed: refused), upload under a temporary
name then rename, the sha256 of the server's copy, retries on a dropped connection."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.sftp_server import USER, SftpServer, make_keys
from warehouse.sharing.delivery import DeliveryError, SftpTarget, deliver_sftp


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sftp")
    root = folder / "root"
    (root / "inbox").mkdir(parents=True)
    keys, host_key, client_key = make_keys(folder)
    srv = SftpServer(root, host_key, client_key).start()
    srv.keys = keys
    yield srv
    srv.stop()


@pytest.fixture
def delivery(tmp_path) -> Path:
    """A written delivery: two data files (one over several SFTP packets) and a manifest."""
    folder = tmp_path / "2008-09"
    folder.mkdir()
    (folder / "district_profile.csv").write_text("la_code,caseload\nE08000001,1235\n")
    (folder / "ward_need.csv").write_bytes(b"ward,count\n" + b"W1,10\n" * 40_000)
    files = [
        {"file": p.name, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
        for p in sorted(folder.iterdir())
    ]
    (folder / "manifest.json").write_text(json.dumps({"files": files}))
    return folder


def _target(server, **kw) -> SftpTarget:
    base = dict(
        host="127.0.0.1",
        port=server.port,
        username=USER,
        key_file=server.keys.client_key_file,
        host_key=server.keys.host_key_line,
        remote_path="/inbox",
        retries=3,
        backoff_seconds=0.05,
    )
    return SftpTarget(**{**base, **kw})


def _remote(server, sub: str) -> Path:
    return server.state.root / "inbox" / sub


def test_a_delivery_arrives_whole_checksum_verified_under_temporary_names(server, delivery):
    server.state.seen.clear()
    results = deliver_sftp(_target(server), delivery, "csp_bolton/2008-09")
    assert [r.status for r in results] == ["delivered"] * 3
    arrived = _remote(server, "csp_bolton/2008-09")
    assert sorted(p.name for p in arrived.iterdir()) == sorted(p.name for p in delivery.iterdir())
    manifest = json.loads((arrived / "manifest.json").read_text())
    for f in manifest["files"]:  # the partner's own check of the manifest
        assert hashlib.sha256((arrived / f["file"]).read_bytes()).hexdigest() == f["sha256"]
    # written only under temporary names (renamed after the check), the manifest last
    assert all(Path(p).name.startswith(".") and p.endswith(".partial") for p in server.state.seen)
    assert Path(server.state.seen[-1]).name == ".manifest.json.partial"


def test_a_changed_host_key_is_refused_before_anything_is_sent(server, delivery):
    server.state.seen.clear()
    with pytest.raises(DeliveryError, match="host key changed") as caught:
        deliver_sftp(_target(server, host_key=server.keys.other_key_line), delivery, "changed")
    assert not _remote(server, "changed").exists() and server.state.seen == []
    assert {r["status"] for r in caught.value.results} == {"failed"}
    assert {r["attempts"] for r in caught.value.results} == {1}  # refused, never retried


def test_an_unknown_host_key_is_refused(server, delivery):
    with pytest.raises(DeliveryError, match="unknown host key"):
        deliver_sftp(_target(server, host_key=None), delivery, "unknown")
    assert not _remote(server, "unknown").exists()


def test_a_dropped_connection_is_retried_and_the_partner_never_sees_half_a_file(server, delivery):
    server.state.drop_writes = 1  # the first write of the first file kills the connection
    results = deliver_sftp(_target(server), delivery, "dropped")
    assert [r.status for r in results] == ["delivered"] * 3
    assert results[0].attempts == 2 and results[-1].attempts == 1
    arrived = _remote(server, "dropped")
    for p in delivery.iterdir():
        assert (arrived / p.name).read_bytes() == p.read_bytes()
    assert not [p for p in arrived.iterdir() if p.name.endswith(".partial")]


def test_retries_give_up_and_say_which_files_did_not_arrive(server, delivery):
    server.state.drop_writes = 2
    results = deliver_sftp(_target(server, retries=2), delivery, "given_up")
    assert [r.status for r in results] == ["failed"] * 3
    assert all("dropped" in (r.error or "") or "Error" in (r.error or "") for r in results)
    arrived = _remote(server, "given_up")
    visible = [p.name for p in arrived.iterdir() if not p.name.startswith(".")]
    assert visible == []  # no final name holds a partial file
