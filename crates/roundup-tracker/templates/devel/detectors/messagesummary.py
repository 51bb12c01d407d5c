# Gives every new message a one-line summary taken from its text, by the
# same rules the mail gateway uses (quoted sections are skipped).

from roundup.mailgw import parseContent


def add_summary(db, cl, nodeid, newvalues):
    if "summary" in newvalues or "content" not in newvalues:
        return
    content = newvalues["content"]
    if not isinstance(content, str):
        return
    summary, _ = parseContent(content, config=db.config)
    newvalues["summary"] = summary


def init(db):
    db.msg.audit("create", add_summary)
