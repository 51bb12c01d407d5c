"""Roundup's Password values (stored hashes), hashed by the Rust core."""

import _roundup as _rt


class PasswordValueError(ValueError):
    pass


class Password:
    """A password: give `plaintext` to hash it, or `encrypted` for a
    stored hash ("{PBKDF2}..."). Compare with a clear-text string."""

    def __init__(self, plaintext=None, scheme=None, encrypted=None,
                 strict=False, config=None):
        self.password = None
        self.scheme = scheme
        if plaintext is not None:
            self.setPassword(plaintext, scheme, config=config)
        elif encrypted is not None:
            self.unpack(encrypted, scheme, strict=strict, config=config)

    def setPassword(self, plaintext, scheme=None, config=None):
        self.password = _rt.password_hash(plaintext, scheme)
        self.scheme = self.password[1:self.password.index('}')] \
            if self.password.startswith('{') else scheme

    def unpack(self, encrypted, scheme=None, strict=False, config=None):
        encrypted = str(encrypted)
        if encrypted.startswith('{') and '}' in encrypted:
            self.password = encrypted
            self.scheme = encrypted[1:encrypted.index('}')]
        elif strict:
            raise PasswordValueError('Unknown password scheme in "%s"' % encrypted)
        else:
            self.setPassword(encrypted, scheme, config=config)

    def dummystr(self):
        return '{%s}***' % (self.scheme or '')

    def __eq__(self, other):
        if isinstance(other, Password):
            return self.password == other.password
        if other is None or self.password is None:
            return False
        return _rt.password_verify(self.password, str(other))

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = None

    def __str__(self):
        if self.password is None:
            raise ValueError('Password not set')
        return self.password

    def __repr__(self):
        return '<Password %s>' % self.dummystr()


def generatePassword(length=12):
    import random
    import string
    chars = string.ascii_letters + string.digits
    rng = random.SystemRandom()
    return ''.join(rng.choice(chars) for _ in range(length))


def encodePassword(plaintext, scheme, other=None, config=None):
    return _rt.password_hash(plaintext, scheme)
