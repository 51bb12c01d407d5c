"""What detectors use of Roundup's roundupdb module."""

from roundup.exceptions import DetectorError  # noqa: F401 (re-exported)
from roundup.i18n import _  # noqa: F401 (re-exported)


class MessageSendError(RuntimeError):
    pass


def extractUserFromList(userClass, users):
    """Drop the anonymous and admin users from a list of user ids when
    other users are left."""
    if len(users) > 1:
        ret = []
        for user in users:
            if userClass.get(user, 'username') not in ('admin', 'anonymous'):
                ret.append(user)
        return ret or users
    return users
