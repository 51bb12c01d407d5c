# Optional: give new bugs the severity "normal" when none is chosen.
# Not switched on; to use it, register the auditor in init():
#     db.bug.audit("create", default_severity)

def default_severity(db, cl, nodeid, newvalues):
    if newvalues.get("severity"):
        return
    newvalues["severity"] = db.severity.lookup("normal")

def init(db):
    pass
