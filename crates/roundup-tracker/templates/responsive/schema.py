# Tracker schema for the "responsive" template: the same classes
# and permissions as the "devel" template; only the web pages differ.
# A tracker for software projects: "bug" items reported by users, "task"
# items planned by developers and "milestone" items grouping both for a
# release. Every class gets creation, activity, creator and actor
# automatically; IssueClass adds title, messages, files, nosy and
# superseder, FileClass adds content and type.

# Version control: repositories and the revisions messages refer to.
vcs_repo = Class(db, "vcs_repo",
                 name=String(),
                 host=String(),
                 path=String(),
                 webview_url=String())
vcs_repo.setkey("name")

vcs_rev = Class(db, "vcs_rev",
                repository=Link("vcs_repo"),
                revision=String())

# Lookup classes. Each has a unique name, a description and a sort order.
component = Class(db, "component",
                  name=String(),
                  description=String(),
                  order=Number(),
                  assign_to=Link("user"))
component.setkey("name")

def lookup_class(name):
    """A named, described and ordered lookup class."""
    cl = Class(db, name, name=String(), description=String(), order=Number())
    cl.setkey("name")
    return cl

version = lookup_class("version")
severity = lookup_class("severity")
priority = lookup_class("priority")
status = lookup_class("status")
resolution = lookup_class("resolution")

keyword = Class(db, "keyword", name=String(), description=String())
keyword.setkey("name")

# Saved searches.
query = Class(db, "query",
              klass=String(),
              name=String(),
              url=String(),
              private_for=Link("user"))

# People. "roles" is a comma-separated list of role names; vcs_name is the
# name they commit under.
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
             timezone=String(),
             vcs_name=String())
user.setkey("username")
db.security.addPermission(name="Register", klass="user",
                          description="May sign up as a new user")

for role in ["User"]:
    db.security.addPermissionToRole(role, "Create", "vcs_rev")
    db.security.addPermissionToRole(role, "View", "vcs_repo")

# Messages, attached files and patches keep their content on disk.
msg = FileClass(db, "msg",
                author=Link("user", do_journal="no"),
                recipients=Multilink("user", do_journal="no"),
                date=Date(),
                summary=String(),
                files=Multilink("file"),
                messageid=String(),
                inreplyto=String(),
                revision=Link("vcs_rev"))

file = FileClass(db, "file",
                 name=String(),
                 description=String(indexme="yes"))

patch = FileClass(db, "patch",
                  name=String(),
                  description=String(indexme="yes"),
                  repository=String(),
                  revision=String())

bug_type = lookup_class("bug_type")

bug = IssueClass(db, "bug",
                 type=Link("bug_type"),
                 components=Multilink("component"),
                 versions=Multilink("version"),
                 severity=Link("severity"),
                 priority=Link("priority"),
                 dependencies=Multilink("bug"),
                 assignee=Link("user"),
                 status=Link("status"),
                 resolution=Link("resolution"),
                 superseder=Link("bug"),
                 keywords=Multilink("keyword"),
                 patches=Multilink("patch"))

task_type = lookup_class("task_type")

task = IssueClass(db, "task",
                  type=Link("task_type"),
                  components=Multilink("component"),
                  priority=Link("priority"),
                  dependencies=Multilink("task"),
                  assignee=Multilink("user"),
                  status=Link("status"),
                  resolution=Link("resolution"),
                  solves=Link("bug"))

milestone = IssueClass(db, "milestone",
                       bugs=Multilink("bug"),
                       tasks=Multilink("task"),
                       status=Link("status"),
                       release_date=String())

# ---------------------------------------------------------------------------
# Permissions
#
# Roles: Admin (everything, built in), Coordinator (plans releases, manages
# users), Developer (works on bugs and tasks), User (reports bugs) and
# Anonymous (not logged in).

db.security.addRole(name="Developer", description="Works on bugs and tasks")
db.security.addRole(name="Coordinator", description="Plans milestones and manages users")

for r in ["User", "Developer", "Coordinator"]:
    for access in ["Web Access", "Email Access", "Rest Access", "Xmlrpc Access"]:
        db.security.addPermissionToRole(r, access)

# Ordinary users: see nearly everything, report bugs.
for cl in ["severity", "component", "version", "priority", "status",
           "resolution", "bug_type", "bug", "task_type", "task", "milestone",
           "keyword", "file", "msg"]:
    db.security.addPermissionToRole("User", "View", cl)
    db.security.addPermissionToRole("Anonymous", "View", cl)

for cl in ["severity", "component", "version", "priority", "status",
           "resolution", "bug_type", "bug", "file", "msg"]:
    db.security.addPermissionToRole("User", "Create", cl)

def file_creator(db, userid, itemid):
    """True for the user who uploaded the file."""
    return userid == db.file.get(itemid, "creator")

p = db.security.addPermission(name="Edit", klass="file", check=file_creator,
    description="May remove files they uploaded")
db.security.addPermissionToRole("User", p)

bug_fields = ("title", "bug_type", "components", "versions", "severity",
              "messages", "files", "nosy")
for perm in ["Create", "Edit"]:
    p = db.security.addPermission(name=perm, klass="bug", properties=bug_fields,
        description="May report bugs and take part in their discussion")
    db.security.addPermissionToRole("User", p)

task_fields = ("title", "task_type", "components", "messages", "files", "nosy")
for perm in ["Create", "Edit"]:
    p = db.security.addPermission(name=perm, klass="task", properties=task_fields,
        description="May open tasks and take part in their discussion")
    db.security.addPermissionToRole("Developer", p)

for perm in ["Create", "Edit"]:
    p = db.security.addPermission(name=perm, klass="milestone",
        description="May plan milestones and discuss them")
    db.security.addPermissionToRole("Coordinator", p)

# Developers: see the project data, work on bugs, messages, files, keywords.
for cl in ["bug_type", "severity", "component", "version", "priority",
           "status", "resolution", "bug", "file", "msg", "keyword"]:
    db.security.addPermissionToRole("Developer", "View", cl)
for cl in ["bug", "file", "msg", "keyword"]:
    db.security.addPermissionToRole("Developer", "Edit", cl)
    db.security.addPermissionToRole("Developer", "Create", cl)

# Coordinators: see, change and create all of the project data.
for cl in ["bug_type", "task_type", "severity", "component", "version",
           "priority", "status", "resolution", "bug", "task", "file", "msg"]:
    for perm in ["View", "Edit", "Create"]:
        db.security.addPermissionToRole("Coordinator", perm, cl)

# Public details of other users.
p = db.security.addPermission(name="View", klass="user",
    properties=("id", "organisation", "phone", "realname", "timezone",
                "username", "vcs_name"))
db.security.addPermissionToRole("User", p)
db.security.addPermissionToRole("Developer", p)

# Coordinators manage users, roles included.
db.security.addPermissionToRole("Coordinator", "View", "user")
db.security.addPermissionToRole("Coordinator", "Edit", "user")
db.security.addPermissionToRole("Coordinator", "Web Roles")

def own_record(db, userid, itemid):
    """True when the user is looking at their own user item."""
    return userid == itemid

p = db.security.addPermission(name="View", klass="user", check=own_record,
    description="May see every detail of their own user record")
for r in ["User", "Developer", "Coordinator"]:
    db.security.addPermissionToRole(r, p)
p = db.security.addPermission(name="Edit", klass="user", check=own_record,
    description="May change their own user details (not their roles)",
    properties=("username", "password", "address", "realname", "phone",
                "organisation", "alternate_addresses", "queries", "timezone"))
for r in ["User", "Developer"]:
    db.security.addPermissionToRole(r, p)

def query_visible(db, userid, itemid):
    """Public queries, and private ones made for this user."""
    owner = db.query.get(itemid, "private_for")
    return (not owner) or owner == userid

def query_owned(db, userid, itemid):
    """Queries the user created."""
    return userid == db.query.get(itemid, "creator")

p = db.security.addPermission(name="View", klass="query", check=query_visible,
    description="May see public queries and their own private ones")
p = db.security.addPermission(name="Search", klass="query")
db.security.addPermissionToRole("User", p)
for r in ["User", "Developer", "Coordinator"]:
    db.security.addPermissionToRole(r, p)
p = db.security.addPermission(name="Edit", klass="query", check=query_owned,
    description="May change queries they created")
for r in ["User", "Developer", "Coordinator"]:
    db.security.addPermissionToRole(r, p)
p = db.security.addPermission(name="Create", klass="query",
    description="May save new queries")
for r in ["User", "Developer", "Coordinator"]:
    db.security.addPermissionToRole(r, p)

# Anonymous visitors may browse bugs and sign up.
db.security.addPermissionToRole("Anonymous", "Web Access")
db.security.addPermissionToRole("Anonymous", "Register", "user")
for cl in ["bug", "severity", "status", "resolution", "msg", "file"]:
    db.security.addPermissionToRole("Anonymous", "View", cl)
p = db.security.addPermission(name="Search", klass="user")
db.security.addPermissionToRole("Anonymous", p)
