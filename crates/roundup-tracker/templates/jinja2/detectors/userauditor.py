# Checks user records before they are stored: the login name's characters,
# e-mail address syntax and uniqueness, that roles exist and that the time
# zone is known.

USERNAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@!%.+-"
LOCAL_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-"
DOMAIN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"

def only_chars(text, allowed):
    for c in text.elems():
        if c not in allowed:
            return False
    return True

def valid_local_part(local):
    if not local:
        return False
    for piece in local.split("."):
        if not piece or not only_chars(piece, LOCAL_CHARS):
            return False
    return True

def valid_domain(domain):
    if domain == "localhost":
        return True
    labels = domain.split(".")
    if len(labels) < 2:
        return False
    for label in labels:
        if not label or not only_chars(label, DOMAIN_CHARS):
            return False
        if label.startswith("-") or label.endswith("-"):
            return False
    return True

def valid_address(address):
    if "@" in address:
        local, _, domain = address.rpartition("@")
        return valid_local_part(local) and valid_domain(domain)
    return valid_local_part(address)

def addresses_in(values):
    found = []
    if values.get("address"):
        found.append(values["address"])
    alternates = values.get("alternate_addresses")
    if alternates:
        found.extend([a.strip() for a in alternates.split("\n") if a.strip()])
    return found

def check_user(db, cl, nodeid, newvalues):
    username = newvalues.get("username")
    if username != None and not (username and only_chars(username, USERNAME_CHARS)):
        ValueError("Login names may only contain the letters a-z (any case), the digits 0-9 and the symbols @._-!+%")
    for address in addresses_in(newvalues):
        if not valid_address(address):
            ValueError('The e-mail address "%s" is not valid' % address)
        owners = [u for u in db.user.stringFind(address=address) if u != nodeid]
        for uid in db.user.list():
            if uid == nodeid or uid in owners:
                continue
            alternates = db.user.get(uid, "alternate_addresses") or ""
            if address in [a.strip() for a in alternates.split("\n")]:
                owners.append(uid)
        if owners:
            ValueError("The e-mail address %s is already in use" % address)
    roles = newvalues.get("roles")
    if roles:
        for role in [r.strip().lower() for r in roles.split(",")]:
            if role and not db.security.hasRole(role):
                ValueError('There is no role called "%s"' % role)
    tz = newvalues.get("timezone")
    if tz and not valid_timezone(tz):
        ValueError('"%s" is not a known time zone (use a name such as Europe/Paris or an offset in hours from -23 to 23)' % tz)

def init(db):
    db.user.audit("create", check_user)
    db.user.audit("set", check_user)
