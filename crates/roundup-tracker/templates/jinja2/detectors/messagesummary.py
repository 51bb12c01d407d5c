# Gives every new message a one-line summary taken from its text: the first
# line of the first paragraph that is not quoted from an earlier message.

def make_summary(text):
    for paragraph in text.replace("\r\n", "\n").split("\n\n"):
        lines = [l.strip() for l in paragraph.split("\n")]
        lines = [l for l in lines if l and not l.startswith(">")]
        if not lines:
            continue
        if lines[0].endswith(":") and len(lines) == 1:
            # "Someone wrote:" before a quotation
            continue
        line = lines[0]
        if len(line) > 250:
            line = line[:250] + "..."
        return line
    return ""

def add_summary(db, cl, nodeid, newvalues):
    if "summary" in newvalues or "content" not in newvalues:
        return
    content = newvalues["content"]
    if type(content) != "string":
        return
    newvalues["summary"] = make_summary(content)

def init(db):
    db.msg.audit("create", add_summary)
