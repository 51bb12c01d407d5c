# Tracker schema for the "jinja2" template: the classic schema,
# with web pages rendered by Jinja2 instead of TAL.
#
# This file defines the classes of items the tracker stores and who may do
# what with them. It is Python, run as Roundup runs a tracker's schema.py,
# with the same names (Class, IssueClass, FileClass, String, Link,
# db.security...).

# Priorities and statuses: small lookup classes ordered by "order".
priority = Class(db, "priority", name=String(), order=Number())
priority.setkey("name")

status = Class(db, "status", name=String(), order=Number())
status.setkey("name")

keyword = Class(db, "keyword", name=String())
keyword.setkey("name")

# Saved searches ("queries") shown in the sidebar.
query = Class(db, "query",
              klass=String(),
              name=String(),
              url=String(),
              private_for=Link("user"))

# People who use the tracker. "roles" holds comma-separated role names.
user = Class(db, "user",
             username=String(),
             password=Password(),
             address=String(),
             realname=String(),
             phone=String(),
             organisation=String(),
             alternate_addresses=String(),
             queries=Multilink("query"),
             roles=String(),
             timezone=String())
user.setkey("username")

db.security.addPermission(name="Register", klass="user",
                          description="May sign up as a new user")

# Messages and attached files keep their content on disk.
msg = FileClass(db, "msg",
                author=Link("user", do_journal="no"),
                recipients=Multilink("user", do_journal="no"),
                date=Date(),
                summary=String(),
                files=Multilink("file"),
                messageid=String(),
                inreplyto=String())

file = FileClass(db, "file", name=String())

# Issues get title, messages, files, nosy and superseder from IssueClass.
issue = IssueClass(db, "issue",
                   assignedto=Link("user"),
                   keyword=Multilink("keyword"),
                   priority=Link("priority"),
                   status=Link("status"))

# ---------------------------------------------------------------------------
# Permissions
#
# Admin may do everything (built in). Below: what registered users ("User")
# and people who are not logged in ("Anonymous") may do.

for access in ["Web Access", "Email Access", "Rest Access", "Xmlrpc Access"]:
    db.security.addPermissionToRole("User", access)

for cl in ["issue", "file", "msg", "keyword"]:
    db.security.addPermissionToRole("User", "View", cl)
    db.security.addPermissionToRole("User", "Edit", cl)
    db.security.addPermissionToRole("User", "Create", cl)
for cl in ["priority", "status"]:
    db.security.addPermissionToRole("User", "View", cl)

# Users see a few public details of everybody...
p = db.security.addPermission(name="View", klass="user",
    properties=("id", "organisation", "phone", "realname", "timezone", "username"))
db.security.addPermissionToRole("User", p)

def own_record(db, userid, itemid):
    """True when the user is looking at their own user item."""
    return userid == itemid

# ...and all of their own record, most of which they may change.
p = db.security.addPermission(name="View", klass="user", check=own_record,
    description="May see every detail of their own user record")
db.security.addPermissionToRole("User", p)
p = db.security.addPermission(name="Edit", klass="user", check=own_record,
    properties=("username", "password", "address", "realname", "phone",
                "organisation", "alternate_addresses", "queries", "timezone"),
    description="May change their own user details (not their roles)")
db.security.addPermissionToRole("User", p)

def query_visible(db, userid, itemid):
    """Public queries, and private ones made for this user."""
    owner = db.query.get(itemid, "private_for")
    return (not owner) or owner == userid

def query_owned(db, userid, itemid):
    """Queries the user created."""
    return userid == db.query.get(itemid, "creator")

p = db.security.addPermission(name="View", klass="query", check=query_visible,
    description="May see public queries and their own private ones")
db.security.addPermissionToRole("User", p)
p = db.security.addPermission(name="Search", klass="query")
db.security.addPermissionToRole("User", p)
for perm, what in [("Edit", "change"), ("Retire", "retire"), ("Restore", "restore")]:
    p = db.security.addPermission(name=perm, klass="query", check=query_owned,
        description="May %s queries they created" % what)
    db.security.addPermissionToRole("User", p)
p = db.security.addPermission(name="Create", klass="query",
    description="May save new queries")
db.security.addPermissionToRole("User", p)

# Anonymous visitors may browse and sign up, but not change anything.
db.security.addPermissionToRole("Anonymous", "Web Access")
db.security.addPermissionToRole("Anonymous", "Register", "user")
for cl in ["issue", "file", "msg", "keyword", "priority", "status"]:
    db.security.addPermissionToRole("Anonymous", "View", cl)
p = db.security.addPermission(name="Search", klass="user")
db.security.addPermissionToRole("Anonymous", p)
