# Optional: give new bugs the status "new" when none is chosen.
# Not switched on; to use it, register the auditor in init():
#     db.bug.audit("create", default_status)

def default_status(db, cl, nodeid, newvalues):
    if newvalues.get("status"):
        return
    newvalues["status"] = db.status.lookup("new")

def init(db):
    pass
