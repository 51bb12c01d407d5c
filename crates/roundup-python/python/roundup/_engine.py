"""Glue between the Rust core and tracker code: value conversion, the
trampolines the core calls detectors and checks through, and error
classification. Not for tracker code."""

import sys
import warnings

import _roundup as _rt

# Compiling tracker code written for older Pythons (e.g. "\g" in a plain
# string) warns here where Roundup's Python 3.11 stays quiet.
warnings.filterwarnings('ignore', category=SyntaxWarning)
warnings.filterwarnings('ignore', category=DeprecationWarning)

# (traceback is imported only when an error is described: importing it
# costs more than starting the interpreter)

_DB = None


def the_db():
    """The `db` object tracker code receives (one serves every tracker)."""
    global _DB
    if _DB is None:
        from roundup import hyperdb
        _DB = hyperdb.Database()
    return _DB


def to_py(value):
    """A value from the core as tracker code sees it."""
    if type(value) is tuple and len(value) == 2:
        tag, text = value
        if tag == 'D':
            from roundup.date import Date
            return Date._from_serial(text)
        if tag == 'I':
            from roundup.date import Interval
            return Interval(text)
        if tag == 'P':
            from roundup.password import Password
            return Password(encrypted=text)
    return value


def to_core(value):
    """A value from tracker code in the form the core reads."""
    from roundup.date import Date, Interval
    from roundup.password import Password
    if isinstance(value, Date):
        return ('D', value.serialise())
    if isinstance(value, Interval):
        return ('I', value.serialise())
    if isinstance(value, Password):
        return ('P', str(value))
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, dict):
        # Roundup accepts {id: 1} for multilinks
        return list(value.keys())
    return value


def dict_to_py(values):
    if values is None:
        return None
    return {k: to_py(v) for k, v in values.items()}


def dict_to_core(values):
    return {k: to_core(v) for k, v in values.items()}


def call_auditor(fn, classname, nodeid, newvalues):
    db = the_db()
    cl = db.getclass(classname)
    nv = dict_to_py(newvalues)
    fn(db, cl, nodeid, nv)
    if nv is None:
        return None
    return dict_to_core(nv)


def call_reactor(fn, classname, nodeid, oldvalues):
    db = the_db()
    fn(db, db.getclass(classname), nodeid, dict_to_py(oldvalues))


def call_filter(fn, userid, classname):
    db = the_db()
    specs = fn(db, userid, db.getclass(classname))
    out = []
    # each item holds keyword arguments of filter(); the filterspec is
    # what the core takes
    for spec in specs or []:
        filterspec = spec.get('filterspec') or {}
        out.append({k: to_core(v) for k, v in filterspec.items()})
    return out


def push_path(dirs):
    """Put the detectors' folders on sys.path while they load, so that
    they can import each other."""
    for d in reversed(dirs):
        sys.path.insert(1, d)


def pop_path(dirs):
    """Take them off again (by value: other trackers may be loading), and
    forget the modules imported from them, so that another tracker of
    this process with a module of the same name gets its own."""
    for d in dirs:
        try:
            sys.path.remove(d)
        except ValueError:
            pass
    prefixes = tuple(d.rstrip('/') + '/' for d in dirs)
    for name, module in list(sys.modules.items()):
        filename = getattr(module, '__file__', None)
        if isinstance(filename, str) and filename.startswith(prefixes):
            del sys.modules[name]


class Instance(object):
    """The tracker instance an extension's init(instance) receives."""

    def __init__(self, tracker_home):
        self.tracker_home = tracker_home
        self.config = the_db().config

    def registerUtil(self, name, function):
        _rt.register_extension('util', name, function)

    def registerUtilMethod(self, name, function):
        _rt.register_extension('utilmethod', name, function)

    def registerAction(self, name, action):
        _rt.register_extension('action', name, action)


class TemplateObject(object):
    """A page's template object (item, property, ...) as an extension
    function sees it: attributes, calls, items and str() go to the page
    that is being rendered."""

    __slots__ = ('_h',)

    def __init__(self, h):
        object.__setattr__(self, '_h', h)

    def __getattr__(self, name):
        if name.startswith('__') and name.endswith('__'):
            raise AttributeError(name)
        return _rt.tpl_getattr(self._h, name)

    def __setattr__(self, name, value):
        raise AttributeError('template objects are read-only')

    def __getitem__(self, key):
        return _rt.tpl_getitem(self._h, key)

    def __call__(self, *args, **kwargs):
        return _rt.tpl_call(self._h, args, kwargs)

    def __str__(self):
        return _rt.tpl_str(self._h)

    def __repr__(self):
        return '<TemplateObject %s>' % _rt.tpl_str(self._h)

    def __bool__(self):
        return _rt.tpl_bool(self._h)

    def __iter__(self):
        return iter(_rt.tpl_items(self._h))

    def __len__(self):
        return len(_rt.tpl_items(self._h))

    def __contains__(self, value):
        return value in _rt.tpl_items(self._h)

    def __eq__(self, other):
        if isinstance(other, TemplateObject):
            other = str(other)
        return str(self) == other

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(str(self))

    def __html__(self):
        return str(self)


def call_util(fn, method, args):
    if method:
        from roundup.cgi.templating import TemplatingUtils
        return fn(TemplatingUtils(), *args)
    return fn(*args)


def interface_utils(env):
    """What interfaces.py defines: ([(name, function)] of the methods its
    TemplatingUtils subclass adds, [names of classes whose overrides are
    not used])."""
    from roundup.cgi.client import Client
    from roundup.cgi.templating import TemplatingUtils
    from roundup.mailgw import MailGW
    utils = []
    cls = env.get('TemplatingUtils')
    if isinstance(cls, type) and cls is not TemplatingUtils:
        inst = cls(None)
        seen = set()
        for klass in cls.__mro__:
            if klass is TemplatingUtils or klass is object:
                break
            for name, fn in vars(klass).items():
                if (name.startswith('_') or name in seen
                        or not callable(fn)):
                    continue
                seen.add(name)
                utils.append((name, getattr(inst, name)))
    unused = []
    for name, base in (('Client', Client), ('MailGW', MailGW)):
        cls = env.get(name)
        if isinstance(cls, type) and cls is not base:
            unused.append(name)
    return utils, unused


class FormField(object):
    """One submitted value, as cgi.FieldStorage gives it."""

    def __init__(self, name, value, filename=None, type=None):
        self.name = name
        self.value = value
        self.filename = filename
        self.type = type or 'text/plain'
        if filename is not None:
            import io
            self.file = io.BytesIO(value)
        else:
            self.file = None

    def __repr__(self):
        return 'MiniFieldStorage(%r, %r)' % (self.name, self.value)


class FieldStorage(object):
    """The submitted form, with cgi.FieldStorage's reading methods."""

    def __init__(self, fields):
        self.list = [FormField(*f) for f in fields]

    def keys(self):
        out = []
        for f in self.list:
            if f.name not in out:
                out.append(f.name)
        return out

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        return len(self.keys())

    def __contains__(self, name):
        return any(f.name == name for f in self.list)

    has_key = __contains__

    def __getitem__(self, name):
        found = [f for f in self.list if f.name == name]
        if not found:
            raise KeyError(name)
        if len(found) == 1:
            return found[0]
        return found

    def getvalue(self, name, default=None):
        found = [f.value for f in self.list if f.name == name]
        if not found:
            return default
        if len(found) == 1:
            return found[0]
        return found

    def getfirst(self, name, default=None):
        for f in self.list:
            if f.name == name:
                return f.value
        return default

    def getlist(self, name):
        return [f.value for f in self.list if f.name == name]


class WebClient(object):
    """`self.client` of a web action: the request, and what the action
    says back (messages, headers, the page to render)."""

    def __init__(self, req, fields):
        (self.action, method, self.base, self.userid, self.classname,
         self.nodeid, self.template) = req
        self.db = the_db()
        self.form = FieldStorage(fields)
        self.env = {'REQUEST_METHOD': method}
        self.additional_headers = {}
        self._ok = []
        self._err = []
        try:
            self.user = self.db.user.get(self.userid, 'username')
        except Exception:
            self.user = 'anonymous'
        self.language = ''

    def add_ok_message(self, msg, escape=True):
        if msg not in self._ok:
            self._ok.append(str(msg))

    def add_error_message(self, msg, escape=True):
        if msg not in self._err:
            self._err.append(str(msg))

    def setHeader(self, header, value):
        self.additional_headers[header] = value

    def gettext(self, msgid):
        return msgid

    _ = gettext


def run_action(klass, req, fields):
    """Run a registered action as Roundup's client does; returns
    (outcome, text, commit, ok, err, template, headers)."""
    from roundup import exceptions
    from roundup.cgi import exceptions as cgi_exc
    client = WebClient(req, fields)
    first_template = client.template
    outcome, text, commit = 'render', '', True
    try:
        result = klass(client).execute()
        if result is not None:
            if isinstance(result, bytes):
                result = result.decode('utf-8', 'replace')
            outcome, text = 'body', str(result)
    except cgi_exc.Redirect as e:
        outcome, text = 'redirect', str(e.args[0]) if e.args else client.base
    except exceptions.Unauthorised as e:
        outcome, text, commit = 'unauthorised', _message(e), False
    except cgi_exc.NotFound as e:
        outcome, text, commit = 'notfound', _message(e), False
    except (ValueError, exceptions.Reject) as e:
        client.add_error_message(_message(e))
        commit = False
    template = client.template if client.template != first_template else None
    headers = [(str(k), str(v)) for k, v in client.additional_headers.items()]
    return (outcome, text, commit, client._ok, client._err, template, headers)


class CoreError(Exception):
    """A database error that leaves Python as it came (busy, conflict)."""


def make_error(kind, message):
    from roundup import exceptions, hyperdb
    cls = {
        'reject': exceptions.Reject,
        'value': hyperdb.HyperdbValueError,
        'unauthorised': exceptions.Unauthorised,
        'index': IndexError,
        'key': KeyError,
        'type': TypeError,
        'runtime': RuntimeError,
        'attribute': AttributeError,
        'timeout': TimeoutError,
        'core': CoreError,
    }.get(kind, RuntimeError)
    return cls(message)


def _location(exc):
    """file:line of where the exception was raised in tracker code."""
    if isinstance(exc, SyntaxError):
        where = exc.filename or ''
        if exc.lineno:
            where = '%s:%s' % (where, exc.lineno)
        return where
    tb = exc.__traceback__
    last = None
    while tb is not None:
        if not _ours(tb.tb_frame):
            last = '%s:%s' % (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return last or ''


def _ours(frame):
    """Whether a frame runs library code (this package or the standard
    library, both frozen into the binary) rather than tracker code."""
    spec = frame.f_globals.get('__spec__')
    if getattr(spec, 'origin', None) == 'frozen':
        return True
    # the frozen modules of this package are named like "roundup.date"
    filename = frame.f_code.co_filename
    return (filename.startswith('<frozen') or filename.startswith('roundup.')
            or filename == 'roundup' or filename.startswith('_'))


def describe(exc, located=False):
    """(kind, message, location, traceback) of an exception ending a call.
    With `located`, refusals and value errors are script errors too (for
    reports of a file that failed to load, which need file and line)."""
    from roundup import exceptions
    if isinstance(exc, CoreError):
        return ['core', str(exc), _location(exc), _traceback(exc)]
    if located:
        pass
    elif isinstance(exc, exceptions.Reject):
        return ['reject', _message(exc), '', '']
    elif isinstance(exc, exceptions.Unauthorised):
        return ['unauthorised', _message(exc), '', '']
    elif isinstance(exc, ValueError) and not isinstance(exc, UnicodeError):
        return ['value', _message(exc), '', '']
    if isinstance(exc, SyntaxError):
        msg = '%s: %s' % (type(exc).__name__, exc.msg)
        if exc.text:
            msg += '\n    ' + exc.text.rstrip('\n')
        return ['script', msg, _location(exc), '']
    return ['script', '%s: %s' % (type(exc).__name__, exc), _location(exc),
            _traceback(exc)]


def _traceback(exc):
    try:
        import traceback
        tb = ''.join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except Exception:
        tb = ''
    return tb.rstrip()


def _message(exc):
    if len(exc.args) == 1:
        return str(exc.args[0])
    return str(exc)
