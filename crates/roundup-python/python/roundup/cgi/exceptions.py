"""Exceptions of the web interface, as tracker actions raise and catch
them."""

from roundup.exceptions import LoginError, RoundupException, Unauthorised  # noqa: F401


class RoundupCGIException(RoundupException):
    pass


class Reauth(RoundupCGIException):
    pass


class HTTPException(RoundupCGIException):
    pass


class Redirect(HTTPException):
    """raise Redirect(url): the browser is sent to url (302)."""


class NotModified(HTTPException):
    pass


class NotFound(HTTPException):
    """raise NotFound(message): the page is a 404."""


class PreconditionFailed(HTTPException):
    pass


class RateLimitExceeded(HTTPException):
    pass


class DetectorError(RoundupException):
    pass


class FormError(ValueError):
    """A form that cannot be acted on; shown as an error message."""


class IndexerQueryError(RoundupException):
    pass


class SendFile(RoundupException):
    pass


class SendStaticFile(RoundupException):
    pass


class SeriousError(RoundupException):
    pass
