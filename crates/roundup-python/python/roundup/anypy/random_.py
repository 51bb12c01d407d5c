"""A cryptographically strong random source, as anypy.random_ offers."""

import random as _random

_sysrand = _random.SystemRandom()
random = _sysrand.random
choice = _sysrand.choice
getrandbits = _sysrand.getrandbits
randint = _sysrand.randint
shuffle = _sysrand.shuffle
sample = _sysrand.sample
is_weak = False
