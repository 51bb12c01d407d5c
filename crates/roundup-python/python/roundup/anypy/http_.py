"""`http_.client` and `http_.server`: the standard http modules."""

import http.client as client  # noqa: F401
try:
    import http.server as server  # noqa: F401
except ImportError:
    server = None
