"""The exceptions tracker code raises and catches."""


class RoundupException(Exception):
    pass


class LoginError(RoundupException):
    pass


class Unauthorised(RoundupException):
    pass


class RejectBase(RoundupException):
    pass


class Reject(RejectBase):
    """Raised by an auditor to refuse a change; the message is shown to
    the user and nothing of the change is written."""


class RejectRaw(Reject):
    """A Reject whose message is not HTML-escaped when shown."""


class UsageError(ValueError):
    pass


class RateLimitExceeded(RoundupException):
    pass


class DetectorError(RoundupException):
    """Raised by a detector that could not do its work."""
