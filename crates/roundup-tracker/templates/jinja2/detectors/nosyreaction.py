# Keeps issue nosy lists up to date: whoever an issue is assigned to, and
# the authors (and, if configured, recipients) of new messages, are added.
# (Sending the messages out by e-mail is done by the mail gateway part.)

def wanted(setting, creating):
    """Roundup's add_*_to_nosy settings: "yes" always, "new" only for new issues."""
    setting = str(setting).strip().lower()
    return setting == "yes" or (creating and setting == "new")

def update_nosy(db, cl, nodeid, newvalues):
    creating = nodeid == None
    if "nosy" in newvalues:
        nosy = [u for u in (newvalues["nosy"] or []) if db.user.hasnode(u)]
    elif creating:
        nosy = []
    else:
        nosy = cl.get(nodeid, "nosy")
    before = list(nosy)

    assignee = newvalues.get("assignedto")
    if assignee:
        for uid in (assignee if type(assignee) == "list" else [assignee]):
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

def init(db):
    db.issue.audit("create", update_nosy)
    db.issue.audit("set", update_nosy)
