"""Connecting a vault to its one Nextcloud account, and disconnecting it.

``connect`` checks the server (status.php, capabilities), finds the DAV user id with
``cloud/user`` (never the display name), creates or reuses the root folder, and only then stores
the connection in the vault's encrypted index. With Login Flow v2 the stored secret is the app
password the server issued; the account's main password is never seen. ``disconnect`` revokes
that app password on the server and forgets the connection; local reports stay.
``set_auto_retry`` turns automatic resume on or off for a connected vault.

``encrypt_to`` (age recipients of the organization) makes reports go in the sealed layout
(docs/server-layout.md); it is checked before anything is sent, and can be changed later with
``tellakit.set_encrypt_to``. Each report keeps what the connection said when it was queued.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tellakit.engine.naming import name_problem
from tellakit.engine.ports import Cancel, ConnectionStore, credentials_for
from tellakit.errors import (
    ConnectionSettingsError,
    NameRejected,
    NoConnection,
    ServerError,
)
from tellakit.nextcloud import (
    Credentials,
    LoginFlow,
    NameRules,
    NextcloudClient,
    poll_login_flow,
    start_login_flow,
)
from tellakit.sealed import parse_recipients
from tellakit.vault import ConnectionSettings
from tellakit.vault.models import WITHOUT_DIGEST_CHOICES, WITHOUT_DIGEST_DOWNLOAD

if TYPE_CHECKING:
    from tellakit.engine.submitter import Submitter

log = logging.getLogger(__name__)

ClientFactory = Callable[[Credentials], Any]
LOGIN_FLOW_TIMEOUT = 1200.0  # the server keeps a flow for 20 minutes


def _root_segments(root_folder: str) -> list[str]:
    parts = [p for p in root_folder.replace("\\", "/").split("/") if p.strip()]
    if not parts:
        raise NameRejected("Choose a name for the folder where reports will be saved.")
    return parts


def _check_root(parts: list[str], rules: NameRules) -> None:
    for part in parts:
        problem = name_problem(part, rules)
        if problem is not None:
            raise NameRejected(f"The server would refuse the folder name {part!r}: {problem}.")


def check_without_digest(value: str) -> str:
    """``value`` when it is a ``without_digest`` choice, else ConnectionSettingsError."""
    if value not in WITHOUT_DIGEST_CHOICES:
        raise ConnectionSettingsError(
            f"without_digest must be one of {', '.join(map(repr, WITHOUT_DIGEST_CHOICES))}: "
            "what to do with a file the server offers no SHA-256 for (download it back and "
            f"hash it, or check its size only), not {value!r}."
        )
    return value


def _connect_with(
    vault: ConnectionStore,
    creds: Credentials,
    root_folder: str,
    *,
    is_app_password: bool,
    upload_manifest: bool,
    auto_retry: bool,
    encrypt_to: tuple[str, ...],
    readable_names: bool,
    without_digest: str,
    client_factory: ClientFactory | None,
) -> ConnectionSettings:
    check_without_digest(without_digest)
    if vault.get_connection() is not None:
        raise ConnectionSettingsError(
            "This vault already has a Nextcloud connection (one per vault, as in Tella); "
            "disconnect it first."
        )
    parts = _root_segments(root_folder)
    client = (client_factory or NextcloudClient)(creds)
    try:
        client.status()
        caps = client.capabilities()
        user = client.current_user()
        _check_root(parts, caps.name_rules)
        root = "/".join(parts)
        client.ensure_folder(root)
        settings = ConnectionSettings(
            server_url=getattr(client, "base_url", creds.server_url),
            login=creds.login,
            user_id=user.id,
            password=creds.password,
            is_app_password=is_app_password,
            root_folder=root,
            allow_insecure_http=creds.allow_insecure_http,
            upload_manifest=upload_manifest,
            auto_retry=auto_retry,
            encrypt_to=encrypt_to,
            readable_names=readable_names,
            without_digest=without_digest,
        )
        vault.set_connection(settings)
        return settings
    finally:
        client.close()


def connect(
    vault: ConnectionStore,
    server_url: str,
    login: str | None,
    password: str | None,
    root_folder: str,
    *,
    allow_insecure_http: bool = False,
    login_flow: bool = False,
    on_login_url: Callable[[str], None] | None = None,
    login_timeout: float = LOGIN_FLOW_TIMEOUT,
    upload_manifest: bool = True,
    auto_retry: bool = False,
    encrypt_to: Iterable[str] = (),
    readable_names: bool = False,
    without_digest: str = WITHOUT_DIGEST_DOWNLOAD,
    client_factory: ClientFactory | None = None,
) -> ConnectionSettings:
    """Connect ``vault`` to a Nextcloud account and store the connection in its index.

    With ``login_flow=True`` the login and password are not used: a Login Flow v2 is started,
    ``on_login_url(url)`` is called so the caller can show the address to open in a browser,
    and this call blocks (up to ``login_timeout`` s) until access is granted. The result holds
    an app password. For a non-blocking flow use :func:`start_login` + :func:`finish_login`.

    With ``encrypt_to`` (one or more ``age1...`` or ``ssh-ed25519`` recipients) reports are
    sealed to those keys; ``readable_names`` then keeps the title as the folder name.

    ``without_digest`` says how a file is verified when the server computes no SHA-256 of it
    (no ``X-Hash`` answer, no ``PATCH X-Recalculate-Hash``): ``"download"`` it back and hash
    it (the default; its bytes cross the link twice) or ``"size_only"`` (recorded as "size
    checked, content not verified").

    Raises the protocol layer's errors (ConnectionLost, NotNextcloud, TLSFailure,
    AuthenticationFailed, TwoFactorRequired, ServerUnavailable, InsecureURL), NameRejected
    for a root folder name the server refuses, or ConnectionSettingsError for a recipient that
    does not parse (before any request); nothing is stored unless every check passed.
    """
    recipients = _recipients(encrypt_to)
    if login_flow:
        if on_login_url is None:
            raise ValueError("login_flow=True needs on_login_url to show the address to open")
        flow = start_login(server_url, allow_insecure_http=allow_insecure_http)
        on_login_url(flow.login_url)
        return finish_login(
            vault,
            flow,
            root_folder,
            timeout=login_timeout,
            upload_manifest=upload_manifest,
            auto_retry=auto_retry,
            encrypt_to=recipients,
            readable_names=readable_names,
            without_digest=without_digest,
            client_factory=client_factory,
        )
    if not login or password is None:
        raise ConnectionSettingsError("Enter the login name and password (or use Login Flow).")
    creds = Credentials(server_url, login, password, allow_insecure_http)
    return _connect_with(
        vault,
        creds,
        root_folder,
        is_app_password=False,
        upload_manifest=upload_manifest,
        auto_retry=auto_retry,
        encrypt_to=recipients,
        readable_names=readable_names,
        without_digest=without_digest,
        client_factory=client_factory,
    )


def _recipients(encrypt_to: Iterable[str]) -> tuple[str, ...]:
    """The canonical recipients (ConnectionSettingsError naming the first that is wrong)."""
    if isinstance(encrypt_to, str):  # one recipient given as a string, not a list
        encrypt_to = [encrypt_to]
    return tuple(str(r) for r in parse_recipients(encrypt_to))


def start_login(server_url: str, *, allow_insecure_http: bool = False) -> LoginFlow:
    """Start Login Flow v2; open ``flow.login_url`` in a browser, then call finish_login."""
    return start_login_flow(server_url, allow_insecure_http=allow_insecure_http)


def finish_login(
    vault: ConnectionStore,
    flow: LoginFlow,
    root_folder: str,
    *,
    timeout: float = LOGIN_FLOW_TIMEOUT,
    interval: float = 2.0,
    cancel: Cancel | None = None,
    upload_manifest: bool = True,
    auto_retry: bool = False,
    encrypt_to: Iterable[str] = (),
    readable_names: bool = False,
    without_digest: str = WITHOUT_DIGEST_DOWNLOAD,
    client_factory: ClientFactory | None = None,
) -> ConnectionSettings:
    """Wait for the browser to grant access, then connect with the app password it issued.

    If anything fails after the app password was issued, it is revoked again on the server,
    so a failed connect leaves no stray credential behind.
    """
    recipients = _recipients(encrypt_to)
    check_without_digest(without_digest)  # before the server issues an app password
    creds = poll_login_flow(flow, timeout=timeout, interval=interval, cancel=cancel)
    try:
        return _connect_with(
            vault,
            creds,
            root_folder,
            is_app_password=True,
            upload_manifest=upload_manifest,
            auto_retry=auto_retry,
            encrypt_to=recipients,
            readable_names=readable_names,
            without_digest=without_digest,
            client_factory=client_factory,
        )
    except BaseException:
        _revoke_quietly(creds, client_factory)
        raise


def _revoke_quietly(creds: Credentials, client_factory: ClientFactory | None) -> None:
    try:
        with (client_factory or NextcloudClient)(creds) as client:
            client.revoke_app_password()
    except Exception as exc:  # best effort: the original error is what the caller needs
        log.warning("could not revoke the unused app password: %s", type(exc).__name__)


def set_auto_retry(vault: ConnectionStore, on: bool) -> ConnectionSettings:
    """Save the connection's "Resume automatically when the connection returns" setting.

    The app's Submitter reads it when an upload stops (scheduler.RetryPolicy ``auto=None``),
    so it applies from the next interruption on; nothing is sent to the server.
    """
    settings = vault.get_connection()
    if settings is None:
        raise NoConnection("This vault has no Nextcloud connection.")
    updated = replace(settings, auto_retry=bool(on))
    vault.set_connection(updated)
    return updated


def disconnect(
    vault: ConnectionStore,
    *,
    force: bool = False,
    submitter: Submitter | None = None,
    client_factory: ClientFactory | None = None,
) -> bool:
    """Forget the vault's connection; revoke its app password on the server first.

    Local reports stay (drafts, outbox and submitted). Running uploads of ``submitter`` are
    paused first. Returns True when an app password was revoked. If revoking fails (server
    unreachable), the connection is kept and the error raised, unless ``force=True``: then it
    is forgotten anyway and False is returned (revoke it in the server's security settings).
    """
    settings = vault.get_connection()
    if settings is None:
        raise NoConnection("This vault has no Nextcloud connection.")
    if submitter is not None:
        for report_id in submitter.active():
            submitter.pause(report_id)
    revoked = False
    if settings.is_app_password:
        try:
            with (client_factory or NextcloudClient)(credentials_for(settings)) as client:
                client.revoke_app_password()
            revoked = True
        except ServerError:
            if not force:
                raise
            log.warning("the app password could not be revoked; forgetting it anyway")
    vault.delete_connection()
    return revoked
