# Uploaded files never keep the type text/html: a browser would render
# them as part of the tracker's pages. They are stored as text/plain.

def html_as_plain(db, cl, nodeid, newvalues):
    if newvalues.get("type") == "text/html":
        newvalues["type"] = "text/plain"

def init(db):
    db.file.audit("create", html_as_plain)
    db.file.audit("set", html_as_plain)
