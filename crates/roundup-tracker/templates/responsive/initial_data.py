# Items every new "responsive" tracker starts with, the same as
# for "devel". `adminpw` and `admin_email` are provided by `roundup-admin initialise`.

def fill(classname, names):
    """Create the named items of a lookup class, ordered as listed."""
    cl = db.getclass(classname)
    for order, name in enumerate(names):
        cl.create(name=name, order=str(order + 1))

fill("bug_type", ["crash", "compile error", "resource usage", "security",
                  "behavior", "rfe"])
fill("component", ["backend", "frontend", "documentation", "specification"])
fill("version", ["devel", "1.0", "1.1", "1.2", "1.3", "1.4"])
fill("severity", ["critical", "urgent", "major", "normal", "minor"])
fill("priority", ["immediate", "urgent", "high", "normal", "low"])
fill("status", ["new", "open", "closed"])
db.status.create(name="pending", description="user feedback required", order="4")
fill("resolution", ["accepted", "duplicate", "fixed", "invalid", "later",
                    "out of date", "postponed", "rejected", "remind",
                    "wont fix", "works for me"])

db.keyword.create(name="patch", description="Contains patch")

user = db.getclass("user")
user.create(username="admin", password=adminpw, address=admin_email, roles="Admin")
user.create(username="anonymous", roles="Anonymous")
user.create(username="user", roles="User")
user.create(username="developer", roles="User, Developer")
user.create(username="coordinator", roles="User, Developer, Coordinator")
