"""A Nextcloud-compatible development server (``pip install tellakit[devserver]``).

Real WebDAV from wsgidav with Nextcloud's routes added (status.php, OCS, Login Flow v2,
app passwords, chunked uploads, quotas, name rules, X-Hash), a fault injector and a
request log. It never imports the rest of tellakit (only the standard library, wsgidav
and cheroot), so it can serve as an independent test peer.
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
