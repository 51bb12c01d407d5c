"""Reference results for the filter tests, computed by Roundup itself.

Usage: python filter_oracle.py TRACKER_DIR CASES_FILE

Builds a classic sqlite tracker in TRACKER_DIR (which must not exist),
extends the issue class with one property of each remaining type and two
reverse multilinks, fills it with deterministic data, and prints for each
case of CASES_FILE a line "name<TAB>ids" (ids comma separated) or
"name<TAB>ERROR<TAB>message".
"""
import os
import subprocess
import sys

tracker, cases_file = sys.argv[1], sys.argv[2]
admin = os.path.join(os.path.dirname(sys.executable), 'roundup-admin')


def run_admin(*args):
    subprocess.run([admin, '-i', tracker] + list(args), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


run_admin('install', 'classic', 'sqlite', 'mail_domain=example.com')
# No detectors: they would send mail and change statuses behind our back.
detectors = os.path.join(tracker, 'detectors')
for fn in os.listdir(detectors):
    if fn.endswith('.py'):
        os.remove(os.path.join(detectors, fn))
schema_path = os.path.join(tracker, 'schema.py')
with open(schema_path) as f:
    schema = f.read()
old = 'assignedto=Link("user"),'
assert old in schema
schema = schema.replace(old, 'assignedto=Link("user", rev_multilink="assigned"),'
                        ' deadline=Date(), estimate=Interval(), effort=Number(),'
                        ' votes=Integer(), urgent=Boolean(),')
old = 'keyword=Multilink("keyword"),'
assert old in schema
schema = schema.replace(old, 'keyword=Multilink("keyword", rev_multilink="issues"),')
with open(schema_path, 'w') as f:
    f.write(schema)
run_admin('initialise', 'admin')

from roundup import instance, date  # noqa: E402

db = instance.open(tracker).open('admin')

state = [12345]


def rnd(n):
    state[0] = (state[0] * 1103515245 + 12345) % (2 ** 31)
    return (state[0] >> 8) % n


for name in ('alpha', 'beta', 'Gamma', 'delta', 'oldkw'):
    db.keyword.create(name=name)
users = []
for uname, real in (('alice', 'Alice Smith'), ('bob', 'Bob Jones'),
                    ('carol', 'Carol Smithers'), ('dave', None),
                    ('eve', 'Eve Evans')):
    kw = dict(username=uname, address=uname + '@example.com', roles='User')
    if real:
        kw['realname'] = real
    users.append(db.user.create(**kw))

now = date.Date('.')
msgs = []
for i in range(50):
    author = users[rnd(len(users))] if rnd(6) else '1'
    d = date.Date('2003-01-01') + date.Interval('%dd' % rnd(900))
    if rnd(4) == 0:
        d = now - date.Interval('%dd 6:00' % (rnd(120) + 1))
    msgs.append(db.msg.create(content='message %d' % i, author=author,
                              date=d))

titles = ['Crash when saving file', 'crash on startup', 'UI freezes',
          'Save dialog broken', '100% CPU usage', 'under_score name',
          'Login fails', 'login page slow', 'Search is SLOW',
          'Needle in a haystack', 'file menu crash', 'Unicode t\u00eftle',
          'percent 100 done', 'underscore name']
estimates = ['3d', '2:30', '1w', '3d 4:00', '1d', '4:00', '2w']
status_ids = db.status.list()
priority_ids = db.priority.list()
keyword_ids = db.keyword.list()
for i in range(45):
    kw = dict(title='%s %d' % (titles[i % len(titles)], i))
    if rnd(5):
        kw['status'] = status_ids[rnd(len(status_ids))]
    if rnd(4):
        kw['priority'] = priority_ids[rnd(len(priority_ids))]
    if rnd(3):
        kw['assignedto'] = users[rnd(len(users))]
    kw['keyword'] = sorted({keyword_ids[rnd(len(keyword_ids))]
                            for _ in range(rnd(4))}, key=int)
    kw['messages'] = sorted({msgs[rnd(len(msgs))] for _ in range(rnd(4))},
                            key=int)
    kw['nosy'] = sorted({users[rnd(len(users))] for _ in range(rnd(3))},
                        key=int)
    r = rnd(6)
    if r == 0:
        pass
    elif r == 1:
        kw['deadline'] = now - date.Interval('%dd 3:00' % (rnd(100) + 1))
    else:
        kw['deadline'] = date.Date('2003-01-01') + \
            date.Interval('%dd %d:00' % (rnd(1000), rnd(24)))
    if rnd(3):
        kw['estimate'] = date.Interval(estimates[rnd(len(estimates))])
    if rnd(3):
        kw['effort'] = [0.5, 1.0, 2.5, 10.0, 2.0][rnd(5)]
    if rnd(3):
        kw['votes'] = rnd(5)
    if rnd(3):
        kw['urgent'] = bool(rnd(2))
    db.issue.create(**kw)
db.commit()
for iid in db.issue.list():
    if int(iid) % 9 == 4:
        db.issue.retire(iid)
db.keyword.retire(db.keyword.lookup('oldkw'))
db.user.retire(db.user.lookup('eve'))
db.commit()


def lookup_ids(cl, raw):
    out = []
    for v in raw:
        v = v.strip()
        if not v:
            continue
        if v.lstrip('-').isdigit():
            out.append(v)
        else:
            out.append(cl.lookup(v))
    return out


def parse_value(s):
    s = s.strip()
    if s.startswith('[') and s.endswith(']'):
        return [x.strip() for x in s[1:-1].split(',')]
    return s


def parse_props(cls, field):
    spec = {}
    for part in field.split('&'):
        part = part.strip()
        if not part:
            continue
        name, value = part.split('=', 1)
        name = name.strip()
        value = parse_value(value)
        prop = cls.get_transitive_prop(name)
        linkcl = getattr(prop, 'classname', None)
        if name.split('.')[-1] == 'id' and not isinstance(value, list):
            # the web interface splits id lists
            value = [x.strip() for x in value.split(',')]
        elif linkcl:
            raw = value if isinstance(value, list) else value.split(',')
            value = lookup_ids(db.getclass(linkcl), raw)
        spec[name] = value
    return spec


def parse_sort(field):
    out = []
    for part in field.split(','):
        part = part.strip()
        if part.startswith('-'):
            out.append(('-', part[1:]))
        elif part:
            out.append(('+', part.lstrip('+')))
    return out


with open(cases_file) as f:
    lines = [ln.rstrip('\n') for ln in f]
for line in lines:
    if not line.strip() or line.startswith('#'):
        continue
    fields = [x.strip() for x in line.split('|')]
    fields += [''] * (9 - len(fields))
    name, cn, filt, exact, srt, grp, retired, limit, offset = fields[:9]
    cls = db.getclass(cn)
    try:
        kw = {}
        kw['exact_match_spec'] = parse_props(cls, exact)
        kw['retired'] = {'': False, 'true': True, 'none': None}[retired]
        if limit:
            kw['limit'] = int(limit)
        skip = 0
        if offset and limit:
            kw['offset'] = int(offset)
        elif offset:
            # Roundup's sqlite SQL has OFFSET without LIMIT, a syntax
            # error: page in Python instead.
            skip = int(offset)
        ids = cls.filter(None, parse_props(cls, filt), sort=parse_sort(srt),
                         group=parse_sort(grp), **kw)[skip:]
        print('%s\t%s' % (name, ','.join(ids)))
    except Exception as e:  # noqa: BLE001
        print('%s\tERROR\t%s' % (name, str(e).replace('\n', ' ')))
    db.rollback()
