"""`xmlrpc_.client` and `xmlrpc_.server`: the standard xmlrpc modules."""

import xmlrpc.client as client  # noqa: F401
try:
    import xmlrpc.server as server  # noqa: F401
except ImportError:  # the server half needs http.server
    server = None
