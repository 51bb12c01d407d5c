# Items every new "minimal" tracker starts with.
user = db.getclass("user")
user.create(username="admin", password=adminpw, address=admin_email, roles="Admin")
user.create(username="anonymous", roles="Anonymous")
