"""Fill a Roundup 2.6 classic tracker with a reproducible benchmark data set.

Run with Roundup 2.6's Python as an unprivileged user:
    python make_tracker.py TRACKER_HOME [ISSUES]

Creates 50 users, 20 keywords and ISSUES issues (default 20000), each with
one or two messages whose text comes from a fixed word list, so that
full-text search has something to find. The random generator is seeded, so
every run produces the same data.
"""
import random
import sys

from roundup import instance, password

home = sys.argv[1]
count = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
rng = random.Random(20261121)

WORDS = """printer network crash login timeout database upgrade email report
search memory disk cache session window button screen keyboard mouse font
export import backup restore server client proxy certificate password token
queue worker thread socket packet router firewall license install config
""".split()

tracker = instance.open(home)
db = tracker.open('admin')
users = []
for i in range(50):
    users.append(db.user.create(username='user%02d' % i, realname='User %d' % i,
                                address='user%02d@example.com' % i, roles='User',
                                password=password.Password('pw%02d' % i, config=db.config)))
keywords = [db.keyword.create(name='kw%02d' % i) for i in range(20)]
statuses = db.status.list()
priorities = db.priority.list()
db.commit()


def sentence(n):
    return ' '.join(rng.choice(WORDS) for _ in range(n))


for i in range(count):
    author = rng.choice(users)
    msgs = []
    for _ in range(rng.randint(1, 2)):
        msgs.append(db.msg.create(content=sentence(rng.randint(8, 30)) + '.',
                                  author=author))
    db.issue.create(title=sentence(rng.randint(3, 7)).capitalize(),
                    status=rng.choice(statuses), priority=rng.choice(priorities),
                    assignedto=rng.choice(users + [None, None]),
                    keyword=rng.sample(keywords, rng.randint(0, 3)),
                    nosy=rng.sample(users, rng.randint(1, 4)), messages=msgs)
    if i % 1000 == 999:
        db.commit()
        print('%d issues' % (i + 1), flush=True)
db.commit()
db.close()
