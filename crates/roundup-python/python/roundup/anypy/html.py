"""HTML escaping as Roundup's anypy.html names it."""

from html import escape as _escape


def html_escape(s, quote=True):
    return _escape(s, quote)
