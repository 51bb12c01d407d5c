# Items every new "classic" tracker starts with.
# `adminpw` and `admin_email` are provided by `roundup-admin initialise`.

priority = db.getclass("priority")
for order, name in enumerate(["critical", "urgent", "bug", "feature", "wish"]):
    priority.create(name=name, order=str(order + 1))

status = db.getclass("status")
for order, name in enumerate(["unread", "deferred", "chatting", "need-eg",
                              "in-progress", "testing", "done-cbb", "resolved"]):
    status.create(name=name, order=str(order + 1))

user = db.getclass("user")
user.create(username="admin", password=adminpw, address=admin_email, roles="Admin")
user.create(username="anonymous", roles="Anonymous")
