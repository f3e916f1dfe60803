"""DevServer: the in-process development server on cheroot."""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from cheroot import wsgi

from tellakit.devserver.app import NextcloudApp
from tellakit.devserver.bodyio import with_socket_body
from tellakit.devserver.context import META_DIR, Context
from tellakit.devserver.faults import Faults
from tellakit.devserver.frontend import Frontend
from tellakit.devserver.meta import MetaStore
from tellakit.devserver.names import NameRules
from tellakit.devserver.profiles import Profile, get_profile
from tellakit.devserver.reqlog import RequestLog
from tellakit.devserver.users import UserStore, totp

_BaseGateway: Any = wsgi.wsgi_gateways[(1, 0)]


class _Gateway(_BaseGateway):
    """cheroot's WSGI gateway, also handing the connection to the app (to cut it), with a
    body reader that receives into the handler's buffers (bodyio.SocketBody)."""

    def get_environ(self) -> dict[str, Any]:
        env: dict[str, Any] = super().get_environ()
        env["tellakit.conn"] = self.req.conn
        env["wsgi.input"] = with_socket_body(env["wsgi.input"])
        return env


class DevServer:
    """A Nextcloud-compatible server on a loopback port, running in a background thread.

    ``users`` maps user id to password (login name = user id); add more with
    :meth:`add_user`. Without ``data_dir`` a temporary folder is used and removed on stop.
    ``max_chunk_size`` is what capabilities advertise as files.chunked_upload.max_size
    (a client hint, as in Nextcloud). ``profile`` names the kind of real server to behave
    like (``profiles.PROFILES``: "nextcloud", "nextcloud-object-store", "nextcloud-old",
    "behind-proxy", "mysql-utf8"). ``tls`` = (certificate file, key file) serves https.
    """

    def __init__(
        self,
        data_dir: Path | str | None = None,
        *,
        users: dict[str, str] | None = None,
        chunk_expiry_seconds: float = 86400,
        windows_compatible: bool = False,
        brute_force_protection: bool = False,
        login_flow_expiry_seconds: float = 1200,
        max_chunk_size: int = 100 * 1024 * 1024,
        host: str = "127.0.0.1",
        port: int = 0,
        threads: int = 16,
        profile: str | Profile = "nextcloud",
        tls: tuple[Path | str, Path | str] | None = None,
    ) -> None:
        self.profile = get_profile(profile)
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="tellakit-devserver-"))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        meta_dir = self.data_dir / META_DIR
        meta_dir.mkdir(exist_ok=True)
        self._meta = MetaStore(meta_dir / "meta.sqlite")
        self.ctx = Context(
            data_dir=self.data_dir,
            meta=self._meta,
            users=UserStore(self._meta),
            rules=NameRules.create(
                windows_compatible=windows_compatible, utf8mb4=self.profile.utf8mb4
            ),
            profile=self.profile,
            chunk_expiry_seconds=chunk_expiry_seconds,
            login_flow_expiry_seconds=login_flow_expiry_seconds,
            brute_force_protection=brute_force_protection,
            max_chunk_size=max_chunk_size,
        )
        for uid, password in ({"alice": "secret"} if users is None else users).items():
            self.add_user(uid, password)
        self.faults = Faults()
        self.log = RequestLog()
        self.app = NextcloudApp(self.ctx)
        self._host = host
        self._port = port
        self._threads = threads
        self._tls = tls
        self._server: wsgi.Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> DevServer:
        """Listen and serve in a background thread; returns self."""
        if self._server is not None:
            return self
        server = wsgi.Server(
            (self._host, self._port),
            Frontend(self.app, self.faults, self.log),
            numthreads=self._threads,
            max=-1,
            request_queue_size=64,
            timeout=30,
            shutdown_timeout=2,
            server_name="tellakit-devserver",
        )
        server.gateway = _Gateway
        if self._tls is not None:
            from cheroot.ssl.builtin import BuiltinSSLAdapter

            server.ssl_adapter = BuiltinSSLAdapter(str(self._tls[0]), str(self._tls[1]))
        server.expiration_interval = 0.1  # stop() waits for one select() timeout
        server.prepare()
        self._server = server
        self._port = server.bind_addr[1]
        self._thread = threading.Thread(target=server.serve, name="tellakit-devserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (and remove the data folder if it was a temporary one)."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._own_dir:
            self._meta.close()
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> DevServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port listened on (known after start)."""
        return self._port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https://`` when serving TLS)."""
        scheme = "http" if self._tls is None else "https"
        return f"{scheme}://{self._host}:{self._port}"

    def __repr__(self) -> str:
        state = "running" if self._server is not None else "stopped"
        return (
            f"DevServer({self.url}, {state}, profile={self.profile.name!r}, "
            f"data={str(self.data_dir)!r})"
        )

    # --- accounts ----------------------------------------------------------------------------
    def add_user(
        self,
        uid: str,
        password: str,
        *,
        login: str | None = None,
        display_name: str | None = None,
        quota: int | None = None,
        two_factor: bool = False,
    ) -> None:
        """Create an account; ``login`` (e.g. an e-mail) differs from ``uid`` when given.

        ``two_factor``: TOTP is enabled for the account, so the main password is refused for
        WebDAV and OCS (only app passwords work) and the Login Flow page asks for a code
        (``totp_code``).
        """
        self.ctx.users.add(
            uid,
            password,
            login=login,
            display_name=display_name,
            quota=quota,
            two_factor=two_factor,
        )
        self.ctx.files_root(uid)

    def totp_code(self, uid: str, at: float | None = None) -> str:
        """The current 6-digit TOTP code of a two-factor account (what its phone shows)."""
        user = self.ctx.users.get(uid)
        if user is None or user.totp_secret is None:
            raise KeyError(f"{uid} has no two-factor authentication")
        return totp(user.totp_secret, at)

    def drop_upload_metadata(self, uid: str, transfer_id: str) -> None:
        """Forget a v2 upload's metadata, as when it leaves Redis (object-store profile):
        its chunk PUTs then answer 412 and its MOVE fails."""
        if not self.profile.object_store:
            raise ValueError(
                f"profile {self.profile.name!r} keeps no v2 upload metadata in a cache; "
                "use profile='nextcloud-object-store'"
            )
        self.app.uploads.drop_metadata(uid, transfer_id)

    def create_app_password(self, uid: str) -> str:
        """A new app password for ``uid``."""
        return self.ctx.users.create_app_password(uid, name="DevServer.create_app_password")

    def set_quota(self, uid: str, quota: int | None) -> None:
        """Set ``uid``'s quota in bytes (None = unlimited)."""
        user = self.ctx.users.get(uid)
        if user is None:
            raise KeyError(uid)
        user.quota = quota

    @property
    def maintenance(self) -> bool:
        """Maintenance mode: every route but status.php answers 503."""
        return self.ctx.maintenance

    @maintenance.setter
    def maintenance(self, value: bool) -> None:
        self.ctx.maintenance = bool(value)

    def files_root(self, uid: str) -> Path:
        """Where ``uid``'s files are on disk."""
        return self.ctx.files_root(uid)

    def approve_login_flow(self, uid: str, token: str | None = None) -> None:
        """What a person clicking "Grant access" as ``uid`` does (latest flow by default)."""
        self.app.flows.approve(uid, token)

    def reset_brute_force(self) -> None:
        """Forget failed logins."""
        self.app.brute_force.reset()
