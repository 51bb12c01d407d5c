"""Roundup's hyperdatabase API for tracker code: property types, the
Class/IssueClass/FileClass constructors of schema.py, and the `db`
object detectors and initial_data.py use. Every operation is carried
out by the Rust core through the `_roundup` module."""

import _roundup as _rt
from roundup import _engine
from roundup.exceptions import Reject, Unauthorised  # noqa: F401 (re-exported)


class DatabaseError(ValueError):
    pass


class HyperdbValueError(ValueError):
    pass


class NoSuchClassError(KeyError):
    pass


class NoSuchPropertyError(KeyError):
    pass


_marker = object()

# ---------------------------------------------------------------------------
# property types


class _Type(object):
    """A property type. The options given are kept as given, for the core
    to check and apply; each is also an attribute with Roundup's default."""

    _tname = None
    _defaults = {'required': False, 'default_value': None, 'quiet': False}

    def __init__(self, **options):
        self._given = dict(options)
        for name, value in self._defaults.items():
            setattr(self, name, value)
        for name, value in options.items():
            setattr(self, name, value)

    def get_default_value(self):
        return self.default_value

    def sort_repr(self, cls, val, name):
        return val

    def __repr__(self):
        return '<%s.%s>' % (self.__class__.__module__, self.__class__.__name__)


def _type(name, extra=None, positional=None):
    defaults = dict(_Type._defaults)
    defaults.update(extra or {})

    def __init__(self, *args, **options):
        if positional:
            if len(args) > 1:
                raise TypeError('%s() takes one positional argument' % name)
            if args:
                if positional in options:
                    raise TypeError('%s(): %s given twice' % (name, positional))
                options[positional] = args[0]
            if positional not in options:
                raise TypeError('%s() needs the name of the class it links to, '
                                'e.g. %s("user")' % (name, name))
        elif args:
            raise TypeError('%s() takes keyword options only' % name)
        _Type.__init__(self, **options)

    return type(name, (_Type,), {'_tname': name, '_defaults': defaults,
                                 '__init__': __init__,
                                 '__module__': 'roundup.hyperdb'})


String = _type('String', {'indexme': 'no'})
Password = _type('Password', {'scheme': None})
Date = _type('Date', {'offset': None, 'display_time': 'yes', 'format': None})
Interval = _type('Interval')
Boolean = _type('Boolean')
Number = _type('Number', {'use_double': False})
Integer = _type('Integer')
Link = _type('Link', {'classname': None, 'do_journal': 'yes',
                      'try_id_parsing': 'yes', 'msg_header_property': None,
                      'rev_multilink': None}, positional='classname')
Multilink = _type('Multilink', {'classname': None, 'do_journal': 'yes',
                                'try_id_parsing': 'yes', 'rev_multilink': None},
                  positional='classname')
_TYPES = {t._tname: t for t in (String, Password, Date, Interval, Boolean,
                                 Number, Integer, Link, Multilink)}


def _prop_from_info(tname, info):
    p = _TYPES[tname].__new__(_TYPES[tname])
    p._given = {}
    for name, value in p._defaults.items():
        setattr(p, name, value)
    for name, value in info.items():
        if name in ('indexme', 'do_journal', 'try_id_parsing', 'display_time'):
            value = 'yes' if value else 'no'
        if name == 'default_value':
            value = _engine.to_py(value)
        setattr(p, name, value)
    return p


# ---------------------------------------------------------------------------
# classes


class Node:
    """One item, its properties readable as attributes."""

    def __init__(self, cl, nodeid, cache=1):
        self.__dict__['cl'] = cl
        self.__dict__['nodeid'] = nodeid

    def keys(self, protected=1):
        return list(self.cl.getprops(protected=protected).keys())

    def values(self, protected=1):
        return [self.cl.get(self.nodeid, k) for k in self.keys(protected)]

    def items(self, protected=1):
        return [(k, self.cl.get(self.nodeid, k)) for k in self.keys(protected)]

    def has_key(self, name):
        return name in self.cl.getprops()

    __contains__ = has_key

    def get(self, name, default=None):
        if name in self.cl.getprops():
            return self.cl.get(self.nodeid, name)
        return default

    def __getattr__(self, name):
        if name in self.cl.getprops():
            return self.cl.get(self.nodeid, name)
        raise AttributeError(name)

    def __getitem__(self, name):
        return self.cl.get(self.nodeid, name)

    def __setattr__(self, name, value):
        self.cl.set(self.nodeid, **{name: value})

    __setitem__ = __setattr__

    def history(self):
        return self.cl.history(self.nodeid)

    def retire(self):
        return self.cl.retire(self.nodeid)


def _ids(value):
    """An id, a list of ids or {id: 1} for find()."""
    if value is None:
        return None
    if isinstance(value, dict):
        return [str(k) for k in value.keys()]
    if isinstance(value, (list, tuple, set)):
        return [str(v) for v in value]
    return [str(value)]


class Class(object):
    """A class of items. In schema.py, `Class(db, "name", prop=Type(), ...)`
    defines it; elsewhere `db.name` or `db.getclass("name")` gives it."""

    _kind = 'Class'

    def __init__(self, db, classname, **properties):
        props = []
        for name, prop in properties.items():
            if not isinstance(prop, _Type):
                raise TypeError('class "%s": property "%s" must be a property '
                                'type such as String() or Link("user"), not %r'
                                % (classname, name, prop))
            props.append((name, prop._tname, dict(prop._given)))
        _rt.define_class(classname, self._kind, props)
        self.classname = classname
        self.db = db
        db._remember(classname, self)

    @classmethod
    def _wrap(cls, db, classname):
        self = cls.__new__(cls)
        self.classname = classname
        self.db = db
        return self

    def __repr__(self):
        return '<hyperdb.Class "%s">' % self.classname

    # ----- schema.py
    def setkey(self, propname):
        _rt.class_setting(self.classname, 'setkey', propname)

    def setlabelprop(self, labelprop):
        _rt.class_setting(self.classname, 'setlabelprop', labelprop)

    def setorderprop(self, orderprop):
        _rt.class_setting(self.classname, 'setorderprop', orderprop)

    def disableJournalling(self):
        _rt.class_setting(self.classname, 'disableJournalling', None)

    def enableJournalling(self):
        _rt.class_setting(self.classname, 'enableJournalling', None)

    # ----- schema questions
    def _info(self):
        return _rt.class_info(self.classname)

    def getprops(self, protected=1):
        info = self._info()
        out = {}
        for name, tname, opts in info[5]:
            if not protected and name in ('id', 'creation', 'activity',
                                          'creator', 'actor'):
                continue
            out[name] = _prop_from_info(tname, opts)
        return out

    @property
    def properties(self):
        return self.getprops()

    def getkey(self):
        return self._info()[1]

    def labelprop(self, default_to_id=0):
        info = self._info()
        if info[2]:
            return info[2]
        if info[1]:
            return info[1]
        names = [p[0] for p in info[5]]
        if 'name' in names:
            return 'name'
        if 'title' in names:
            return 'title'
        if default_to_id:
            return 'id'
        return names[0] if names else 'id'

    def orderprop(self):
        info = self._info()
        if info[3]:
            return info[3]
        names = [p[0] for p in info[5]]
        if 'order' in names:
            return 'order'
        return self.labelprop()

    # ----- detectors
    def audit(self, event, detector, priority=100):
        _rt.register_detector(self.classname, False, event, detector, priority)

    def react(self, event, detector, priority=100):
        _rt.register_detector(self.classname, True, event, detector, priority)

    # ----- items
    def get(self, nodeid, propname, default=_marker, cache=1):
        try:
            return _engine.to_py(_rt.get(self.classname, str(nodeid), propname))
        except (IndexError, KeyError):
            if default is not _marker:
                return default
            raise

    def getnode(self, nodeid, cache=1):
        if not self.hasnode(nodeid):
            raise IndexError('%s has no node %s' % (self.classname, nodeid))
        return Node(self, str(nodeid))

    def create(self, **propvalues):
        return _rt.create(self.classname, _engine.dict_to_core(propvalues))

    def set(self, nodeid, **propvalues):
        changed = _rt.set(self.classname, str(nodeid),
                          _engine.dict_to_core(propvalues))
        return _engine.dict_to_py(changed)

    def retire(self, nodeid):
        _rt.retire(self.classname, str(nodeid))

    def restore(self, nodeid):
        _rt.restore(self.classname, str(nodeid))

    def is_retired(self, nodeid):
        return _rt.is_retired(self.classname, str(nodeid))

    def hasnode(self, nodeid):
        return _rt.hasnode(self.classname, str(nodeid))

    def lookup(self, keyvalue):
        return _rt.lookup(self.classname, str(keyvalue))

    def find(self, **propspec):
        return _rt.find(self.classname, [(k, _ids(v)) for k, v in propspec.items()])

    def stringFind(self, **requirements):
        return _rt.stringfind(self.classname, list(requirements.items()))

    def filter(self, search_matches, filterspec, sort=[], group=[],
               retired=False, exact_match_spec={}, limit=None, offset=None):
        if isinstance(search_matches, dict):
            search_matches = list(search_matches.keys())
        return _rt.filter(self.classname, search_matches,
                          _filterspec(filterspec), _filterspec(exact_match_spec),
                          (_sortspec(sort), _sortspec(group)), retired,
                          (limit, offset))

    def filter_iter(self, *args, **kw):
        return iter(self.filter(*args, **kw))

    def list(self):
        return _rt.list(self.classname)

    def getnodeids(self, retired=None):
        return _rt.getnodeids(self.classname, retired)

    def count(self):
        return _rt.count(self.classname)

    def history(self, nodeid, enforceperms=True, skipquiet=True):
        import ast
        from roundup.date import Date
        out = []
        for nid, date, tag, action, params in _rt.history(self.classname, str(nodeid)):
            try:
                params = ast.literal_eval(params)
            except Exception:
                pass
            out.append((nid, Date._from_serial(date), tag, action, params))
        return out

    def get_roles(self, nodeid):
        return _rt.user_roles(str(nodeid))

    def safeget(self, nodeid, propname, default=None):
        try:
            return self.get(nodeid, propname)
        except (IndexError, KeyError):
            return default


def _filterspec(spec):
    if not spec:
        return None
    out = {}
    for k, v in spec.items():
        if isinstance(v, (list, tuple, set)):
            v = [str(x) if not isinstance(x, str) else x for x in v]
        elif isinstance(v, dict):
            v = [str(x) for x in v.keys()]
        elif v is None:
            v = '-1'
        elif isinstance(v, bool):
            pass
        elif not isinstance(v, str):
            v = _engine.to_core(v)
            if isinstance(v, tuple):
                v = v[1]
            else:
                v = str(v)
        out[k] = v
    return out


def _sortspec(spec):
    if not spec:
        return None
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], (str, type(None))):
        spec = [spec]
    return [tuple(p) for p in spec]


class IssueClass(Class):
    """A class with title, messages, files, nosy and superseder."""

    _kind = 'IssueClass'

    def nosymessage(self, issueid, msgid, oldvalues, whichnosy='nosy',
                    from_address=None, cc=None, bcc=None, cc_emails=None,
                    bcc_emails=None, subject=None, note_filter=None,
                    add_headers=None):
        """Mail message msgid (None: only the change note) to the item's
        nosy list. The tracker core picks the recipients and words the
        mail; it is queued with this transaction and sent after commit."""
        note = None
        if note_filter:
            if oldvalues:
                note = self.generateChangeNote(issueid, oldvalues)
            else:
                note = self.generateCreateNote(issueid)
            note = note_filter(note, issueid, self.db, self, oldvalues)
        _rt.nosymessage(self.classname, str(issueid),
                        None if msgid is None else str(msgid),
                        _engine.dict_to_core(oldvalues) if oldvalues else None,
                        _nosy_options(whichnosy, from_address, cc, bcc,
                                      cc_emails, bcc_emails, subject, note,
                                      add_headers, None))

    # Roundup's older name for the same call.
    sendmessage = nosymessage

    def send_message(self, issueid, msgid, note, sendto, from_address=None,
                     bcc_sendto=None, subject=None, crypt=False,
                     add_headers=None, authid=None):
        """Mail message msgid with note to the given addresses."""
        options = _nosy_options('nosy', from_address, None, None,
                                None, None, subject, note or '',
                                add_headers, authid)
        options['crypt'] = bool(crypt)
        _rt.send_message(self.classname, str(issueid),
                         None if msgid is None else str(msgid),
                         [str(a) for a in (sendto or [])],
                         [str(a) for a in (bcc_sendto or [])],
                         options)

    def generateCreateNote(self, issueid):
        return _rt.create_note(self.classname, str(issueid))

    def generateChangeNote(self, issueid, oldvalues):
        if not isinstance(oldvalues, dict):
            raise TypeError("'oldvalues' must be dict-like, not %s."
                            % type(oldvalues))
        return _rt.change_note(self.classname, str(issueid),
                               _engine.dict_to_core(oldvalues))


def _nosy_options(whichnosy, from_address, cc, bcc, cc_emails, bcc_emails,
                  subject, note, add_headers, authid):
    def ids(v):
        return [str(x) for x in (v or [])]
    return {
        'whichnosy': whichnosy or 'nosy',
        'from_address': from_address,
        'cc': ids(cc), 'bcc': ids(bcc),
        'cc_emails': ids(cc_emails), 'bcc_emails': ids(bcc_emails),
        'subject': subject, 'note': note,
        'add_headers': [(str(k), str(v)) for k, v in (add_headers or {}).items()],
        'authid': None if authid is None else str(authid),
    }


class FileClass(Class):
    """A class whose items have content (kept in files) and a type."""

    _kind = 'FileClass'


# ---------------------------------------------------------------------------
# the database


def _typed(name, text):
    """An option's text as Roundup types it (BooleanOption is 1/0,
    numbers are int/float, paths are joined to the home, empty nullable
    options are None, lists are lists, regular expressions compiled)."""
    kind = _rt.config_kind(name)
    if kind == 's':
        return text
    if kind == 'u':
        from roundup.configuration import OptionUnsetError
        raise OptionUnsetError(name)
    if kind == 'b':
        return 1 if text.strip().lower() in ('yes', 'true', 'on', '1') else 0
    if kind == 'i':
        return int(text)
    if kind == 'o':
        return int(text, 8)
    if kind == 'f':
        return float(text)
    if kind in ('n', 'q', 'm') and text == '':
        return None
    if kind == 'n':
        return text
    home = _rt.config_get('main', 'HOME') or ''
    if kind in ('p', 'q'):
        return _join(home, text) if text else text
    if kind == 'm':
        return [_join(home, p) for p in text.split()]
    if kind == 'c':
        return text.split(',')
    if kind == 'l':
        return [x.lstrip() for x in text.split(',')]
    if kind == 'w':
        return text.split()
    if kind == 'r':
        import re
        return re.compile(text) if text else None
    return text


def _join(home, path):
    if path.startswith('/'):
        return path
    return home.rstrip('/') + '/' + path


class _ConfigSection(object):
    def __init__(self, which):
        self._which = which

    def _get(self, name):
        v = _rt.config_get(self._which, name)
        if v is None or self._which != 'main':
            return v, v is not None
        try:
            return _typed(name, v), True
        except ValueError:
            return v, True

    def __getitem__(self, name):
        v, found = self._get(name)
        if not found:
            from roundup.configuration import InvalidOptionError
            raise InvalidOptionError(name)
        return v

    def __getattr__(self, name):
        if name.startswith('_'):
            raise AttributeError(name)
        v, found = self._get(name)
        if not found:
            raise AttributeError(name)
        return v

    def get(self, name, default=None):
        v, found = self._get(name)
        return v if found else default

    def __contains__(self, name):
        return _rt.config_get(self._which, name) is not None

    def keys(self):
        return _rt.config_names(self._which)


class Config(_ConfigSection):
    """The tracker's config.ini as `db.config`: options by Roundup's
    upper-case names (`db.config.MAIL_DOMAIN`, `db.config['TRACKER_NAME']`);
    `db.config.detectors` and `db.config.ext` for the detectors' and
    extensions' own config.ini."""

    def __init__(self):
        _ConfigSection.__init__(self, 'main')
        self.detectors = _ConfigSection('detectors')
        self.ext = _ConfigSection('ext')

    def getopt(self, section, option):
        return _rt.config_in(section, option)


class Permission(object):
    def __init__(self, handle):
        self._handle = handle
        info = _rt.permission_info(handle)
        if info is not None:
            self.name, self.klass, self.description, self.properties = info

    def __repr__(self):
        return '<Permission %s %s>' % (getattr(self, 'name', '?'),
                                       getattr(self, 'klass', None))


class Role(object):
    def __init__(self, name, description, permissions):
        self.name = name
        self.description = description
        self.permission_list = [Permission(h) for h in permissions]

    def __repr__(self):
        return '<Role %s>' % self.name


def _klass(value):
    if value is None:
        return None
    if isinstance(value, Class):
        return value.classname
    return str(value)


class Security(object):
    """`db.security`: roles, permissions and permission checks."""

    def addRole(self, **kw):
        _rt.add_role(kw['name'], kw.get('description', ''))

    def addPermission(self, **kw):
        props = kw.get('properties')
        if isinstance(props, str):
            props = (props,)
        return Permission(_rt.add_permission(
            kw['name'], kw.get('description', ''), _klass(kw.get('klass')),
            list(props) if props is not None else None, kw.get('check'),
            kw.get('props_only'), kw.get('filter')))

    def getPermission(self, permission, classname=None, properties=None,
                      check=None, props_only=None):
        if isinstance(properties, str):
            properties = (properties,)
        return Permission(_rt.get_permission(
            permission, _klass(classname),
            list(properties) if properties is not None else None,
            check, props_only))

    def addPermissionToRole(self, rolename, permission, classname=None,
                            properties=None, check=None, props_only=None):
        if not isinstance(permission, Permission):
            permission = self.getPermission(permission, classname, properties,
                                            check, props_only)
        _rt.add_permission_to_role(rolename, permission._handle)

    def set_props_only_default(self, props_only=None):
        _rt.set_props_only_default(bool(props_only))

    def hasPermission(self, permission, userid, classname=None,
                      property=None, itemid=None):
        return _rt.has_permission(permission, str(userid), _klass(classname),
                                  property, None if itemid is None else str(itemid))

    def hasRole(self, rolename):
        return rolename.lower() in self.role

    def getRoles(self):
        return list(self.role.keys())

    @property
    def role(self):
        return {name: Role(name, desc, perms) for name, desc, perms in _rt.roles()}


class Database(object):
    """The `db` object of tracker code. Classes are attributes
    (`db.issue`); `db.config`, `db.security`, `db.getuid()`,
    `db.getclass(name)`, `db.getclasses()`."""

    def __init__(self):
        self.__dict__['_classes'] = {}
        self.__dict__['config'] = Config()
        self.__dict__['security'] = Security()

    def _remember(self, classname, cl):
        pass

    def _class(self, classname):
        kind = _rt.class_kind(classname)
        key = (classname, kind)
        cl = self._classes.get(key)
        if cl is None:
            cl = {'IssueClass': IssueClass, 'FileClass': FileClass}.get(
                kind, Class)._wrap(self, classname)
            self._classes[key] = cl
        return cl

    def __getattr__(self, name):
        if name.startswith('__'):
            raise AttributeError(name)
        if name in _rt.class_names():
            return self._class(name)
        raise AttributeError(name)

    def __getitem__(self, classname):
        return self.getclass(classname)

    def __contains__(self, classname):
        return classname in _rt.class_names()

    def getclass(self, classname):
        if classname not in _rt.class_names():
            raise KeyError('There is no class called "%s"' % classname)
        return self._class(classname)

    def getclasses(self):
        return sorted(_rt.class_names())

    def getuid(self):
        return _rt.getuid()

    @property
    def tx_Source(self):
        """Where the changes come from, as the front end said: 'web',
        'rest', 'xmlrpc', 'cli', 'email', 'email-sig-openpgp', None, or
        whatever string tracker code set."""
        return _rt.tx_source()

    @tx_Source.setter
    def tx_Source(self, value):
        _rt.set_tx_source(value)

    @property
    def curuserid(self):
        return _rt.getuid()

    @property
    def journaltag(self):
        return _rt.getuid()

    def hasnode(self, classname, nodeid):
        return _rt.hasnode(classname, str(nodeid))

    def post_init(self):
        pass

    def commit(self):
        """Changes are committed by the front end when the request (or
        command) succeeds; tracker code's commit() is accepted."""

    def rollback(self):
        pass

    def close(self):
        pass


def splitDesignator(designator):
    import re
    m = re.match(r'^([A-Za-z](?:[A-Za-z_0-9]*[A-Za-z_])?)(\d+)$', designator)
    if not m:
        raise DesignatorError('"%s" not a node designator' % designator)
    return m.group(1), m.group(2)


class DesignatorError(ValueError):
    pass


def iter_roles(roles):
    if roles:
        for role in roles.split(','):
            role = role.strip().lower()
            if role:
                yield role
