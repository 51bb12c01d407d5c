#!/usr/bin/env python3
"""Write a synthetic Roundup export (classic schema) to a directory.

Usage: gen_export.py OUTDIR [ISSUES]

The files have exactly the layout `roundup-admin export` produces for a
classic tracker: <class>.csv with a sorted header and "is retired",
<class>-journals.csv, and msg-files/<n>/msgN with message contents. Each
issue has one message, a few nosy users, a status and a priority, and a
journal with its creation and one change. Only the standard library is
used, so it runs with any Python 3.
"""
import csv
import os
import random
import sys


class Colon(csv.excel):
    delimiter = ":"


def bytes_repr(s):
    # repr of the UTF-8 bytes without the b prefix, as Roundup's repr_export
    return repr(s.encode("utf-8"))[1:]


def date_tuple(t):
    # t: seconds since 2020-01-01; UTC fields with milliseconds
    import datetime
    d = datetime.datetime(2020, 1, 1) + datetime.timedelta(seconds=t)
    sec = float("%d.%03d" % (d.second, d.microsecond // 1000))
    return repr((d.year, d.month, d.day, d.hour, d.minute, sec, 0, 0, 0))


WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo "
         "lima mike november oscar papa quebec romeo sierra tango uniform "
         "victor whiskey xray yankee zulu crash login page error slow button "
         "report export import server mail search index").split()


def sentence(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def writer(outdir, name):
    f = open(os.path.join(outdir, name), "w", newline="")
    return f, csv.writer(f, Colon, lineterminator="\n")


def write_fixed_classes(outdir, keywords=()):
    """status and priority as the classic template makes them; keywords
    (names, ids from 1); query and file empty."""
    statuses = ["unread", "deferred", "chatting", "need-eg", "in-progress",
                "testing", "done-cbb", "resolved"]
    priorities = ["critical", "urgent", "bug", "feature", "wish"]
    for cname, names in (("status", statuses), ("priority", priorities)):
        f, w = writer(outdir, cname + ".csv")
        w.writerow(["activity", "actor", "creation", "creator", "id", "name",
                    "order", "is retired"])
        # Roundup exports a class with a key property in the key's order
        rows = sorted(enumerate(names, 1), key=lambda x: x[1])
        for i, name in rows:
            d = date_tuple(i)
            w.writerow([d, "'1'", d, "'1'", "'%d'" % i, bytes_repr(name),
                        "%d.0" % i, "False"])
        f.close()
        f, w = writer(outdir, cname + "-journals.csv")
        for i, _ in enumerate(names, 1):
            w.writerow(["'%d'" % i, date_tuple(i), "'1'", "'create'", "{}"])
        f.close()
    f, w = writer(outdir, "keyword.csv")
    w.writerow(["activity", "actor", "creation", "creator", "id", "name", "is retired"])
    for i, name in sorted(enumerate(keywords, 1), key=lambda x: x[1]):
        d = date_tuple(50 + i)
        w.writerow([d, "'1'", d, "'1'", "'%d'" % i, bytes_repr(name), "False"])
    f.close()
    f, w = writer(outdir, "keyword-journals.csv")
    for i, _ in enumerate(keywords, 1):
        w.writerow(["'%d'" % i, date_tuple(50 + i), "'1'", "'create'", "{}"])
    f.close()
    for cname, header in (
            ("query", ["activity", "actor", "creation", "creator", "id", "klass",
                       "name", "private_for", "url"]),
            ("file", ["activity", "actor", "creation", "creator", "id", "name",
                      "type"])):
        f, w = writer(outdir, cname + ".csv")
        w.writerow(header + ["is retired"])
        f.close()
        open(os.path.join(outdir, cname + "-journals.csv"), "w").close()


def write_users(outdir, users):
    """users: (id, username, realname, roles or None); all but anonymous get
    one fixed PBKDF2 password."""
    f, w = writer(outdir, "user.csv")
    w.writerow(["activity", "actor", "address", "alternate_addresses",
                "creation", "creator", "id", "organisation", "password",
                "phone", "queries", "realname", "roles", "timezone",
                "username", "is retired"])
    pw = ("'{PBKDF2S5}250000$138RgfEzhDDYbgbdlhAObVViUdY$SbIxW1X6MwnstJAnRev2PTT"
          "JMbmilgWtUq/2FbQcuTtli6adGcshFCSTV3q6OVbb4wD96xKKMrhpcGZzDiHdwg'")
    for i, name, real, roles in sorted(users, key=lambda u: u[1]):
        d = date_tuple(100 + i)
        w.writerow([d, "'1'", bytes_repr(name + "@example.com"), "None", d,
                    "'1'", "'%d'" % i, "None", pw if name != "anonymous" else "None",
                    "None", "[]", bytes_repr(real),
                    bytes_repr(roles) if roles else "None", "None",
                    bytes_repr(name), "False"])
    f.close()
    f, w = writer(outdir, "user-journals.csv")
    for i, *_ in users:
        w.writerow(["'%d'" % i, date_tuple(100 + i), "'1'", "'create'", "{}"])
    f.close()


def main():
    outdir = sys.argv[1]
    n_issues = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    n_users = 200
    rng = random.Random(42)
    os.makedirs(outdir, exist_ok=True)
    t0 = 10_000_000

    write_fixed_classes(outdir)
    users = [(1, "admin", "Admin", "Admin"), (2, "anonymous", "Anonymous", None)]
    users += [(i, "user%03d" % i, "User Number %d" % i, "User")
              for i in range(3, n_users + 1)]
    write_users(outdir, users)

    # messages and issues
    fm, wm = writer(outdir, "msg.csv")
    wm.writerow(["activity", "actor", "author", "creation", "creator", "date",
                 "files", "id", "inreplyto", "messageid", "recipients",
                 "summary", "type", "is retired"])
    fmj, wmj = writer(outdir, "msg-journals.csv")
    fi, wi = writer(outdir, "issue.csv")
    wi.writerow(["activity", "actor", "assignedto", "creation", "creator",
                 "files", "id", "keyword", "messages", "nosy", "priority",
                 "status", "superseder", "title", "is retired"])
    fij, wij = writer(outdir, "issue-journals.csv")
    for n in range(1, n_issues + 1):
        t = t0 + n * 60
        author = rng.randint(3, n_users)
        text = sentence(rng, rng.randint(20, 60))
        sub = os.path.join(outdir, "msg-files", str(n // 1000))
        os.makedirs(sub, exist_ok=True)
        with open(os.path.join(sub, "msg%d" % n), "w") as cf:
            cf.write(text + "\n")
        d = date_tuple(t)
        wm.writerow([d, "'%d'" % author, "'%d'" % author, d, "'%d'" % author,
                     d, "[]", "'%d'" % n, "None",
                     bytes_repr("<%d.%d@example.com>" % (t, n)), "[]",
                     bytes_repr(text[:60]), "None", "False"])
        wmj.writerow(["'%d'" % n, d, "'%d'" % author, "'create'", "{}"])
        nosy = sorted({author, rng.randint(3, n_users), 1}, key=int)
        status = rng.randint(1, 8)
        d2 = date_tuple(t + 30)
        wi.writerow([d2, "'1'", "'%d'" % rng.randint(1, n_users) if n % 3 else "None",
                     d, "'%d'" % author, "[]", "'%d'" % n, "[]",
                     "['%d']" % n, repr([str(x) for x in nosy]),
                     "'%d'" % rng.randint(1, 5), "'%d'" % status, "[]",
                     bytes_repr(sentence(rng, rng.randint(3, 8))),
                     "True" if n % 50 == 0 else "False"])
        wij.writerow(["'%d'" % n, d, "'%d'" % author, "'create'", "{}"])
        wij.writerow(["'%d'" % n, d2, "'1'", "'set'",
                      repr({"status": "1"}) if status != 1 else "{}"])
    for fh in (fm, fmj, fi, fij):
        fh.close()


if __name__ == "__main__":
    main()
