# Tracker schema for the "minimal" template: just users.
# Add your own classes below.

user = Class(db, "user",
             username=String(),
             password=Password(),
             address=String(),
             alternate_addresses=String(),
             roles=String())
user.setkey("username")

db.security.addPermission(name="Register", klass="user",
                          description="May sign up as a new user")

for access in ["Web Access", "Email Access", "Rest Access", "Xmlrpc Access"]:
    db.security.addPermissionToRole("User", access)

p = db.security.addPermission(name="View", klass="user", properties=("id", "username"))
db.security.addPermissionToRole("User", p)

def own_record(db, userid, itemid):
    """True when the user is looking at their own user item."""
    return userid == itemid

p = db.security.addPermission(name="View", klass="user", check=own_record,
    description="May see every detail of their own user record")
db.security.addPermissionToRole("User", p)
p = db.security.addPermission(name="Edit", klass="user", check=own_record,
    properties=("username", "password", "address", "alternate_addresses"),
    description="May change their own login, password and addresses")
db.security.addPermissionToRole("User", p)

db.security.addPermissionToRole("Anonymous", "Web Access")
db.security.addPermissionToRole("Anonymous", "Email Access")
db.security.addPermissionToRole("Anonymous", "Register", "user")
