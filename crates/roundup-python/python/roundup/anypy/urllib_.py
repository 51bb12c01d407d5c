"""The urllib names tracker code uses, from urllib.parse/urllib.request."""

from urllib.parse import (quote, unquote, urlencode, urlparse,  # noqa: F401
                          urlunparse, parse_qs, parse_qsl, urljoin,
                          urlsplit, urlunsplit)
try:
    from urllib.request import urlopen  # noqa: F401
except ImportError:
    urlopen = None
