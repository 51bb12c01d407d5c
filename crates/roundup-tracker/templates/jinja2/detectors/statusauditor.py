# Keeps issue statuses sensible: new issues start "unread", and a new message
# on an unread, resolved or done-cbb issue moves it to "chatting".

def status_id(db, name):
    """Id of the status called `name`, or None when the tracker lacks it."""
    found = db.status.stringFind(name=name)
    if found:
        return found[0]
    return None

def two_users_required(db):
    value = db.config.detectors.get("STATUSAUDITOR_CHATTING_REQUIRES_TWO_USERS", "no")
    return str(value).strip().lower() in ("yes", "true", "1", "on")

def move_to_chatting(db, cl, nodeid, newvalues):
    if "messages" not in newvalues or "status" in newvalues:
        return
    if sorted(newvalues["messages"]) == sorted(cl.get(nodeid, "messages")):
        return
    chatting = status_id(db, "chatting")
    if chatting == None:
        return
    current = cl.get(nodeid, "status")
    unread = status_id(db, "unread")
    if current != None and current == unread and two_users_required(db):
        if cl.get(nodeid, "creator") == db.getuid():
            return
    restart_from = [s for s in [unread, status_id(db, "resolved"), status_id(db, "done-cbb")] if s != None]
    if current == None or current in restart_from:
        newvalues["status"] = chatting

def start_unread(db, cl, nodeid, newvalues):
    if newvalues.get("status"):
        return
    unread = status_id(db, "unread")
    if unread != None:
        newvalues["status"] = unread

def init(db):
    db.issue.audit("set", move_to_chatting)
    db.issue.audit("create", start_unread)
