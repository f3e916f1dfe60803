"""A Nextcloud-compatible development server (``pip install tellakit[devserver]``).

Real WebDAV from wsgidav with Nextcloud's routes added (status.php, OCS, Login Flow v2,
app passwords, chunked uploads, quotas, name rules, X-Hash), a fault injector and a
request log. It never imports the rest of tellakit (only the standard library, wsgidav
and cheroot), so it can serve as an independent test peer.

In a notebook or a test::

    from tellakit.devserver import DevServer

    with DevServer(users={"alice": "secret"}) as srv:      # free loopback port
        srv.add_user("u1", "pw", login="carol@example.org", quota=10**9)
        srv.faults.cut_after(1 << 20, method="PUT", path="/uploads/")
        ...  # talk to srv.url (WebDAV root: srv.url + "/remote.php/dav/files/alice/")
        assert srv.log.filter("PUT", "/uploads/")[0].status == 0   # the cut request

``DevServer(profile="nextcloud-object-store")`` (or ``nextcloud-old``, ``behind-proxy``,
``mysql-utf8``) behaves like that kind of real server; profiles.py lists what each changes.

From a shell: ``tellakit devserver --port 8080 --data DIR --user alice:secret``
(``--profile NAME`` picks a profile; ``--fault METHOD:PATH_REGEX:KIND:ARG`` adds faults;
see ``--help``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tellakit.devserver.faults import Faults
from tellakit.devserver.names import NameRules
from tellakit.devserver.reqlog import RequestLog, RequestRecord

if TYPE_CHECKING:
    from tellakit.devserver.server import DevServer

__all__ = ["DevServer", "Faults", "NameRules", "RequestLog", "RequestRecord"]


def __getattr__(name: str) -> Any:
    # DevServer needs the optional extra (wsgidav, cheroot); importing it lazily lets
    # `tellakit devserver` explain what to install instead of failing on import.
    if name == "DevServer":
        from tellakit.devserver.server import DevServer

        return DevServer
    raise AttributeError(name)
