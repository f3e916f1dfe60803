"""Tiny local servers that are not Nextcloud, for connect-error tests (TLS, wrong service)."""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


class _Quiet(http.server.BaseHTTPRequestHandler):
    """A handler that reads each request's body, answers with :meth:`reply`, logs nothing."""

    def read_body(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _serving(
    handler: type[http.server.BaseHTTPRequestHandler], tls: ssl.SSLContext | None = None
) -> Iterator[str]:
    """Run ``handler`` on a loopback port in a thread; yields the base URL."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    scheme = "http" if tls is None else "https"
    try:
        yield f"{scheme}://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class _Html(_Quiet):
    def _answer(self) -> None:
        self.read_body()
        body = b"<html><body>It works!</body></html>"
        self.reply(200, body, {"Content-Type": "text/html"})

    do_GET = do_POST = do_PROPFIND = _answer


@contextmanager
def plain_html_server(tls_dir: Path | None = None) -> Iterator[str]:
    """An HTTP(S) server on loopback answering every request with an HTML page; yields URL."""
    ctx = None
    if tls_dir is not None:
        cert, key = self_signed_cert(tls_dir)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
    with _serving(_Html, ctx) as url:
        yield url


_FORBIDDEN_BODY = (
    b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns" '
    b'xmlns:o="http://owncloud.org/ns">'
    b"<s:exception>OCA\\DAV\\Connector\\Sabre\\Exception\\PasswordLoginForbidden"
    b"</s:exception><s:message></s:message>"
    b'<o:hint xmlns:o="o:">password login forbidden</o:hint></d:error>'
)


class _TwoFactor(_Quiet):
    """What Nextcloud answers a 2FA account's main password: plain OCS 401, DAV with a hint.

    (lib/private/User/Session.php logClientIn throws PasswordLoginForbiddenException; OCS
    swallows it in tryBasicAuthLogin, apps/dav Auth.php turns it into PasswordLoginForbidden.)
    """

    def _answer(self) -> None:
        self.read_body()
        if self.path.startswith("/remote.php/dav"):
            body, ctype = _FORBIDDEN_BODY, "application/xml; charset=utf-8"
        else:
            body = b'{"ocs":{"meta":{"status":"failure","statuscode":997,"message":""},"data":[]}}'
            ctype = "application/json"
        www_auth = 'Basic realm="Nextcloud", charset="UTF-8"'
        self.reply(401, body, {"WWW-Authenticate": www_auth, "Content-Type": ctype})

    do_GET = do_POST = do_PROPFIND = _answer


@contextmanager
def two_factor_server() -> Iterator[str]:
    """A loopback server answering like Nextcloud does for a 2FA account's main password."""
    with _serving(_TwoFactor) as url:
        yield url


@contextmanager
def login_flow_server(tls_dir: Path, answer: dict) -> Iterator[tuple[str, Path]]:
    """An https server on loopback answering ``POST /index.php/login/v2`` with ``answer``
    (JSON); yields (URL, its self-signed certificate to trust)."""
    body = json.dumps(answer).encode()

    class Start(_Quiet):
        def do_POST(self) -> None:
            self.read_body()
            self.reply(200, body, {"Content-Type": "application/json"})

    cert, key = self_signed_cert(tls_dir)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    with _serving(Start, ctx) as url:
        yield url, cert


@contextmanager
def capture_server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A loopback server answering 201 to anything; yields (URL, list of request headers)."""
    seen: list[dict[str, str]] = []

    class Capture(_Quiet):
        def _answer(self) -> None:
            seen.append({k.lower(): v for k, v in self.headers.items()})
            self.read_body()
            self.reply(201)

        do_PUT = _answer

    with _serving(Capture) as url:
        yield url, seen


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 (generated, never stored in git)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def unused_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
