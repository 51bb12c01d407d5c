# A classic-style tracker schema (Python), used by the tests: the classes
# and permissions of Roundup's classic template, written for these tests.

# Lookup classes: each item is named, and priorities/statuses are ordered.
for cname in ["priority", "status"]:
    Class(db, cname, name=String(), order=Number()).setkey("name")

keyword = Class(db, "keyword", name=String())
keyword.setkey("name")

# Saved searches.
Class(db, "query", klass=String(), name=String(), url=String(),
      private_for=Link("user"))

user = Class(db, "user",
             username=String(), password=Password(), address=String(),
             realname=String(), phone=String(), organisation=String(),
             alternate_addresses=String(), queries=Multilink("query"),
             roles=String(), timezone=String())
user.setkey("username")
db.security.addPermission(name="Register", klass="user",
                          description="User is allowed to register new user")

msg = FileClass(db, "msg",
                author=Link("user", do_journal="no"),
                recipients=Multilink("user", do_journal="no"),
                date=Date(), summary=String(), files=Multilink("file"),
                messageid=String(), inreplyto=String())
FileClass(db, "file", name=String())

IssueClass(db, "issue",
           assignedto=Link("user"), keyword=Multilink("keyword"),
           priority=Link("priority"), status=Link("status"))

# ---- regular users
for iface in ["Web Access", "Email Access", "Rest Access", "Xmlrpc Access"]:
    db.security.addPermissionToRole("User", iface)

for cl in ("issue", "file", "msg", "keyword"):
    for perm in ("View", "Edit", "Create"):
        db.security.addPermissionToRole("User", perm, cl)
for cl in ("priority", "status"):
    db.security.addPermissionToRole("User", "View", cl)

public_user_props = ("id", "organisation", "phone", "realname", "timezone", "username")
db.security.addPermissionToRole(
    "User", db.security.addPermission(name="View", klass="user", properties=public_user_props))

def own_record(db, userid, itemid):
    return userid == itemid

db.security.addPermissionToRole("User", db.security.addPermission(
    name="View", klass="user", check=own_record,
    description="User is allowed to view their own user details"))
db.security.addPermissionToRole("User", db.security.addPermission(
    name="Edit", klass="user", check=own_record,
    properties=("username", "password", "address", "realname", "phone",
                "organisation", "alternate_addresses", "queries", "timezone"),
    description="User is allowed to edit their own user details"))

def view_query(db, userid, itemid):
    owner = db.query.get(itemid, "private_for")
    return not owner or owner == userid

def edit_query(db, userid, itemid, **ctx):
    return db.query.get(itemid, "creator") == userid

query_perms = [
    ("View", view_query, "User is allowed to view their own and public queries"),
    ("Search", None, ""),
    ("Edit", edit_query, "User is allowed to edit their queries"),
    ("Retire", edit_query, "User is allowed to retire their queries"),
    ("Restore", edit_query, "User is allowed to restore their queries"),
    ("Create", None, "User is allowed to create queries"),
]
for name, check, text in query_perms:
    p = db.security.addPermission(name=name, klass="query", check=check, description=text)
    db.security.addPermissionToRole("User", p)

# ---- anonymous
db.security.addPermissionToRole("Anonymous", "Web Access")
db.security.addPermissionToRole("Anonymous", "Register", "user")
for cl in ("issue", "file", "msg", "keyword", "priority", "status"):
    db.security.addPermissionToRole("Anonymous", "View", cl)
db.security.addPermissionToRole(
    "Anonymous", db.security.addPermission(name="Search", klass="user"))
