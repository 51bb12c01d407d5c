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
    """Take them off again (by value: other trackers may be loading)."""
    for d in dirs:
        try:
            sys.path.remove(d)
        except ValueError:
            pass


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


class TemplatingUtils(object):
    """`self` of a util registered with registerUtilMethod."""

    def __init__(self):
        self.client = None
        self.db = the_db()


def call_util(fn, method, args):
    if method:
        return fn(TemplatingUtils(), *args)
    return fn(*args)


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
