"""The email helpers tracker code imports from anypy."""

import binascii  # noqa: F401
from email import charset, message, utils  # noqa: F401
from email.utils import formatdate, parseaddr, getaddresses  # noqa: F401
