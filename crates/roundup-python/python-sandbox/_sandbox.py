"""Set up for tracker code without host access (see sandbox.rs): the
standard streams write to the server's log, and detectors and
extensions import each other from the tracker's own folders."""

import sys

import _roundup as _rt


class _LogStream(object):
    """A text stream whose output goes to the server's log."""

    encoding = 'utf-8'
    errors = 'strict'

    def __init__(self, name, mode):
        self.name = name
        self.mode = mode

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError('write() argument must be str, not %s'
                            % type(text).__name__)
        _rt.sandbox_write(text)
        return len(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        pass

    def read(self, *args):
        return ''

    def readline(self, *args):
        return ''

    def isatty(self):
        return False

    def fileno(self):
        import io
        raise io.UnsupportedOperation('fileno')

    def writable(self):
        return self.mode == 'w'

    def readable(self):
        return self.mode == 'r'

    def close(self):
        pass

    @property
    def closed(self):
        return False


stdin = _LogStream('<stdin>', 'r')
stdout = _LogStream('<stdout>', 'w')
stderr = _LogStream('<stderr>', 'w')


class _TrackerFinder(object):
    """Finds `name.py` in the tracker folder being loaded."""

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if path is not None or '.' in fullname:
            return None
        found = _rt.sandbox_source(fullname)
        if found is None:
            return None
        ModuleSpec = sys.modules['_frozen_importlib'].ModuleSpec
        return ModuleSpec(fullname, cls, origin=found[0])

    @classmethod
    def create_module(cls, spec):
        return None

    @classmethod
    def exec_module(cls, module):
        found = _rt.sandbox_source(module.__name__)
        if found is None:
            raise ImportError('no module named %r' % module.__name__)
        filename, source = found
        module.__file__ = filename
        exec(compile(source, filename, 'exec'), module.__dict__)


sys.meta_path.append(_TrackerFinder)
