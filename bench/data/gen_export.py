#!/usr/bin/env python3
"""Write the web benchmark's data set as a Roundup export, fast.

Usage: gen_export.py OUTDIR [ISSUES]

The same shape as make_tracker.py (which fills a tracker through Roundup
2.6's own API at about a thousand issues a minute, too slow for 200,000
or 1,000,000 issues): 50 users user00..user49, 20 keywords kw00..kw19,
and ISSUES issues, each with one or two messages of 8 to 30 words from
the fixed vocabulary that bench/web/random.lua searches for, a random
status, priority, assignee (or none), 0 to 3 keywords and 1 to 4 nosy
users. Messages are numbered before their issue, as make_tracker.py
creates them. Every item has a creation journal entry.

The files are in the format `roundup-admin export` writes for a classic
tracker (see bench/import/gen_export.py); `roundup-admin import` of either
Roundup 2.6 or ours loads them. Only the standard library is used.
"""
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "import"))
from gen_export import (bytes_repr, date_tuple, write_fixed_classes,  # noqa: E402
                        write_users, writer)

WORDS = """printer network crash login timeout database upgrade email report
search memory disk cache session window button screen keyboard mouse font
export import backup restore server client proxy certificate password token
queue worker thread socket packet router firewall license install config
""".split()


def main():
    outdir = sys.argv[1]
    n_issues = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    rng = random.Random(20261121)
    os.makedirs(outdir, exist_ok=True)
    t0 = 10_000_000

    write_fixed_classes(outdir, keywords=["kw%02d" % i for i in range(20)])
    users = list(range(3, 53))
    write_users(outdir, [(1, "admin", "Admin", "Admin"), (2, "anonymous", "Anonymous", "Anonymous")]
                + [(3 + i, "user%02d" % i, "User %d" % i, "User") for i in range(50)])

    def sentence(n):
        return " ".join(rng.choice(WORDS) for _ in range(n))

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
    made_dirs = set()
    msg_id = 0
    for n in range(1, n_issues + 1):
        t = t0 + n * 60
        d = date_tuple(t)
        author = rng.choice(users)
        msgs = []
        for _ in range(rng.randint(1, 2)):
            msg_id += 1
            msgs.append(msg_id)
            text = sentence(rng.randint(8, 30)) + "."
            sub = os.path.join(outdir, "msg-files", str(msg_id // 1000))
            if sub not in made_dirs:
                os.makedirs(sub, exist_ok=True)
                made_dirs.add(sub)
            with open(os.path.join(sub, "msg%d" % msg_id), "w") as cf:
                cf.write(text)
            wm.writerow([d, "'%d'" % author, "'%d'" % author, d, "'%d'" % author,
                         "None", "[]", "'%d'" % msg_id, "None", "None", "[]",
                         bytes_repr(text), "None", "False"])
            wmj.writerow(["'%d'" % msg_id, d, "'%d'" % author, "'create'", "{}"])
        assignee = rng.choice(users + [None, None])
        keywords = sorted(rng.sample(range(1, 21), rng.randint(0, 3)))
        nosy = sorted(rng.sample(users, rng.randint(1, 4)))
        wi.writerow([d, "'%d'" % author,
                     "'%d'" % assignee if assignee else "None",
                     d, "'%d'" % author, "[]", "'%d'" % n,
                     repr([str(k) for k in keywords]),
                     repr([str(m) for m in msgs]), repr([str(u) for u in nosy]),
                     "'%d'" % rng.randint(1, 5), "'%d'" % rng.randint(1, 8), "[]",
                     bytes_repr(sentence(rng.randint(3, 7)).capitalize()), "False"])
        wij.writerow(["'%d'" % n, d, "'%d'" % author, "'create'", "{}"])
        if n % 100000 == 0:
            print("%d issues" % n, flush=True)
    for fh in (fm, fmj, fi, fij):
        fh.close()


if __name__ == "__main__":
    main()
