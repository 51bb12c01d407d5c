# Keeps issue statuses sensible: new issues start "unread", and a new message
# on an unread, resolved or done-cbb issue moves it to "chatting".

from roundup.configuration import BooleanOption, OptionValueError


def status_id(db, name):
    """Id of the status called `name`, or None when the tracker lacks it."""
    try:
        return db.status.lookup(name)
    except KeyError:
        return None


def two_users_required(db):
    value = db.config.detectors.get("STATUSAUDITOR_CHATTING_REQUIRES_TWO_USERS", "no")
    try:
        return bool(BooleanOption(None, "statusauditor",
                                  "chatting_requires_two_users").str2value(value))
    except OptionValueError:
        return False


def move_to_chatting(db, cl, nodeid, newvalues):
    if "messages" not in newvalues or "status" in newvalues:
        return
    if sorted(newvalues["messages"]) == sorted(cl.get(nodeid, "messages")):
        return
    chatting = status_id(db, "chatting")
    if chatting is None:
        return
    current = cl.get(nodeid, "status")
    unread = status_id(db, "unread")
    if current is not None and current == unread and two_users_required(db):
        if cl.get(nodeid, "creator") == db.getuid():
            return
    restart_from = [s for s in (unread, status_id(db, "resolved"),
                                status_id(db, "done-cbb")) if s is not None]
    if current is None or current in restart_from:
        newvalues["status"] = chatting


def start_unread(db, cl, nodeid, newvalues):
    if newvalues.get("status"):
        return
    unread = status_id(db, "unread")
    if unread is not None:
        newvalues["status"] = unread


def init(db):
    db.issue.audit("set", move_to_chatting)
    db.issue.audit("create", start_unread)
