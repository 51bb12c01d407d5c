# Checks user records before they are stored: the login name's characters,
# e-mail address syntax and uniqueness, that roles exist and that the time
# zone is known.

import re

from roundup.date import get_timezone

LOGIN_NAME = re.compile(r"^[A-Za-z0-9_@!%.+-]+$")
LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
DOMAIN = re.compile(r"^(localhost|([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)$")


def valid_address(address):
    """A full address is checked whole; without "@" it is a local name."""
    if "@" in address:
        local, _, domain = address.rpartition("@")
        return bool(LOCAL_PART.match(local) and DOMAIN.match(domain))
    return bool(LOCAL_PART.match(address))


def addresses_in(values):
    found = []
    if values.get("address"):
        found.append(values["address"])
    alternates = values.get("alternate_addresses")
    if alternates:
        found.extend(a.strip() for a in alternates.split("\n") if a.strip())
    return found


def check_user(db, cl, nodeid, newvalues):
    username = newvalues.get("username")
    if username is not None and not LOGIN_NAME.match(username):
        raise ValueError("Login names may only contain the letters a-z (any case), "
                         "the digits 0-9 and the symbols @._-!+%")
    for address in addresses_in(newvalues):
        if not valid_address(address):
            raise ValueError('The e-mail address "%s" is not valid' % address)
        owners = [u for u in db.user.stringFind(address=address) if u != nodeid]
        owners += [u for u in db.user.filter(None, {"alternate_addresses": address})
                   if u != nodeid and address in
                   [a.strip() for a in (db.user.get(u, "alternate_addresses") or "").split("\n")]]
        if owners:
            raise ValueError("The e-mail address %s is already in use" % address)
    roles = newvalues.get("roles")
    if roles:
        for role in (r.strip().lower() for r in roles.split(",")):
            if role and role not in db.security.role:
                raise ValueError('There is no role called "%s"' % role)
    tz = newvalues.get("timezone")
    if tz:
        try:
            get_timezone(tz)
        except (KeyError, ValueError):
            raise ValueError('"%s" is not a known time zone (use a name such as '
                             'Europe/Paris or an offset in hours from -23 to 23)' % tz)


def init(db):
    db.user.audit("create", check_user)
    db.user.audit("set", check_user)
