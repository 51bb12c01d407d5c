"""Exceptions of the web interface that extensions raise."""

from roundup.exceptions import RoundupException


class HTTPException(RoundupException):
    pass


class Redirect(HTTPException):
    pass


class NotFound(HTTPException):
    pass


class NotModified(HTTPException):
    pass


class SeriousError(RoundupException):
    pass


class FormError(ValueError):
    pass
