"""Secrets and private files: created readable by their owner only, whatever the umask."""

import os
import stat

import pytest

from warehouse import secret_files


@pytest.fixture
def open_umask():
    old = os.umask(0)
    yield
    os.umask(old)


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_a_secret_is_made_once_0600_in_a_0700_folder(tmp_path, open_umask):
    path = tmp_path / "secrets" / "pw"
    first = secret_files.read_or_create(path)
    assert len(first) >= 24 and secret_files.read_or_create(path) == first
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["pw"]  # no temporary file left


def test_a_private_file_is_0600_and_exclusive_refuses_an_existing_one(tmp_path, open_umask):
    path = tmp_path / "delivery.csv"
    secret_files.write_private(path, b"a,b\n")
    assert path.read_bytes() == b"a,b\n" and _mode(path) == 0o600
    secret_files.write_private(path, b"c\n")
    assert path.read_bytes() == b"c\n"
    with pytest.raises(FileExistsError):
        secret_files.write_private(path, b"d\n", exclusive=True)


def test_write_replaces_a_secret(tmp_path, open_umask):
    path = tmp_path / "s" / "key"
    secret_files.write(path, "one")
    secret_files.write(path, "two")
    assert secret_files.read(path) == "two" and _mode(path) == 0o600
