"""The web client as `interfaces.py` subclasses it. Our web front end is
not this class: a subclass in interfaces.py loads, and the tracker says
at start which of its overrides are not used."""


class Client(object):
    """The base of an `interfaces.py` `Client` subclass."""

    IGNORE_NET_ERRORS = ()


class NoTemplate(Exception):
    pass
