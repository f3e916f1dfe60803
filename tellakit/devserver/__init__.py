"""A Nextcloud-compatible development server (``pip install tellakit[devserver]``).

Real WebDAV from wsgidav with Nextcloud's routes added (status.php, OCS, Login Flow v2,
app passwords, chunked uploads, quotas, name rules, X-Hash), a fault injector and a
request log. It never imports the rest of tellakit (only the standard library, wsgidav
and cheroot), so it can serve as an independent test peer.
"""

from tellakit.devserver.faults import Faults
from tellakit.devserver.names import NameRules
from tellakit.devserver.reqlog import RequestLog, RequestRecord
from tellakit.devserver.server import DevServer

__all__ = ["DevServer", "Faults", "NameRules", "RequestLog", "RequestRecord"]
