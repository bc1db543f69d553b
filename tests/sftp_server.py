"""A real SFTP server for the delivery tests: asyncssh on 127.0.0.1 (a free port), in its own
thread and event loop, key authentication only, its files under a temporary root.

``drop_writes`` makes the server abort the connection at the next N file writes (a dropped
connection mid-upload); ``seen`` records every path a client opened for writing."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

USER = "partner"


@dataclass
class ServerState:
    root: Path
    drop_writes: int = 0
    seen: list[str] = field(default_factory=list)


@dataclass
class Keys:
    client_key_file: Path
    host_key_line: str  # "ssh-ed25519 AAAA..." as a partner publishes it
    other_key_line: str  # a key of another server (a changed host key)


def make_keys(folder: Path) -> tuple[Keys, asyncssh.SSHKey, asyncssh.SSHKey]:
    client = asyncssh.generate_private_key("ssh-ed25519")
    host = asyncssh.generate_private_key("ssh-ed25519")
    other = asyncssh.generate_private_key("ssh-ed25519")
    key_file = folder / "client_ed25519"
    key_file.write_bytes(client.export_private_key("openssh"))
    key_file.chmod(0o600)

    def line(k: asyncssh.SSHKey) -> str:
        return " ".join(k.export_public_key("openssh").decode().split()[:2])

    return Keys(key_file, line(host), line(other)), host, client


class _Server(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False


def _sftp_factory(state: ServerState):  # type: ignore[no-untyped-def]
    class DroppingSFTP(asyncssh.SFTPServer):
        def __init__(self, chan):  # type: ignore[no-untyped-def]
            super().__init__(chan, chroot=str(state.root).encode())

        def open(self, path, pflags, attrs):  # type: ignore[no-untyped-def]
            if pflags & asyncssh.FXF_WRITE:
                state.seen.append(path.decode())
            return super().open(path, pflags, attrs)

        def write(self, file_obj, offset, data):  # type: ignore[no-untyped-def]
            if state.drop_writes > 0:
                state.drop_writes -= 1
                self.channel.get_connection().abort()
                raise asyncssh.SFTPConnectionLost("dropped by the test server")
            return super().write(file_obj, offset, data)

    return DroppingSFTP


class SftpServer:
    """Start with ``start()``; ``port`` is then bound; ``stop()`` closes it."""

    def __init__(self, root: Path, host_key: asyncssh.SSHKey, client_key: asyncssh.SSHKey):
        self.state = ServerState(root)
        self.host_key, self.client_key = host_key, client_key
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._server = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def _listen(self) -> None:
        authorized = asyncssh.import_authorized_keys(
            self.client_key.export_public_key("openssh").decode()
        )
        self._server = await asyncssh.listen(
            "127.0.0.1",
            0,
            server_host_keys=[self.host_key],
            authorized_client_keys=authorized,
            server_factory=_Server,
            sftp_factory=_sftp_factory(self.state),
            allow_scp=False,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def start(self) -> SftpServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(timeout=30)
        return self

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
