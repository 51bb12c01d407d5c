"""Text/bytes helpers: everything is str in Python 3."""


def b2s(b):
    return b.decode('utf-8') if isinstance(b, bytes) else b


def s2b(s):
    return s.encode('utf-8') if isinstance(s, str) else s


def bs2b(s):
    return s2b(s)


def s2u(s, errors='strict'):
    return b2s(s)


def u2s(u):
    return u


def us2u(s, errors='strict'):
    return b2s(s)


def us2s(u):
    return b2s(u)


def uany2s(u):
    return str(u)


def is_us(s):
    return isinstance(s, str)


def uchr(c):
    return chr(c)


def repr_export(v):
    return repr(v)


def eval_import(s):
    import ast
    return ast.literal_eval(s)


StringIO = __import__('io').StringIO
