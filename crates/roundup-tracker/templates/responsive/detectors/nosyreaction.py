# Keeps the nosy lists of bugs, tasks and milestones up to date: the
# authors (and, if configured, recipients) of new messages are added, and an
# "assignedto" value if the class had one (these classes use "assignee",
# which, as in Roundup's devel template, is left alone).
# New messages are handed to the nosy list (nosymessage).

from roundup import roundupdb

def wanted(setting, creating):
    """Roundup's add_*_to_nosy settings: "yes" always, "new" only for new issues."""
    setting = str(setting).strip().lower()
    return setting == "yes" or (creating and setting == "new")

def update_nosy(db, cl, nodeid, newvalues):
    creating = nodeid is None
    if "nosy" in newvalues:
        nosy = [u for u in (newvalues["nosy"] or []) if db.user.hasnode(u)]
    elif creating:
        nosy = []
    else:
        nosy = cl.get(nodeid, "nosy")
    before = list(nosy)

    assignee = newvalues.get("assignedto")
    if assignee:
        for uid in (assignee if isinstance(assignee, list) else [assignee]):
            if uid not in nosy:
                nosy.append(uid)

    if "messages" in newvalues:
        old = [] if creating else cl.get(nodeid, "messages")
        new_messages = [m for m in newvalues["messages"] if m not in old]
        add_author = getattr(db.config, "ADD_AUTHOR_TO_NOSY", "new")
        add_recipients = getattr(db.config, "ADD_RECIPIENTS_TO_NOSY", "new")
        for msgid in new_messages:
            if wanted(add_author, creating):
                author = db.msg.get(msgid, "author")
                if author and author not in nosy:
                    nosy.append(author)
            if wanted(add_recipients, creating):
                for uid in db.msg.get(msgid, "recipients"):
                    if uid not in nosy:
                        nosy.append(uid)

    if nosy != before or ("nosy" in newvalues and newvalues["nosy"] != nosy):
        newvalues["nosy"] = nosy

def new_messages(cl, nodeid, oldvalues):
    """Messages on the item now that were not there before the change."""
    now = cl.get(nodeid, "messages")
    if oldvalues is None:
        return now
    if "messages" not in oldvalues:
        return []
    before = set(oldvalues["messages"] or [])
    return [m for m in now if m not in before]


def send_to_nosy(db, cl, nodeid, oldvalues):
    for msgid in new_messages(cl, nodeid, oldvalues):
        try:
            cl.nosymessage(nodeid, msgid, oldvalues)
        except roundupdb.MessageSendError as e:
            raise roundupdb.DetectorError(e)


def init(db):
    for cl in [db.bug, db.task, db.milestone]:
        cl.audit("create", update_nosy)
        cl.audit("set", update_nosy)
        cl.react("create", send_to_nosy)
        cl.react("set", send_to_nosy)
