"""Comparisons that accept None, as Roundup's anypy.cmp_ offers."""


class NoneAndDictComparable(object):
    def __init__(self, value):
        self.value = value

    def __lt__(self, other):
        a, b = self.value, other.value
        if a is None:
            return b is not None
        if b is None:
            return False
        return a < b

    def __eq__(self, other):
        return self.value == other.value


def _test():
    pass
