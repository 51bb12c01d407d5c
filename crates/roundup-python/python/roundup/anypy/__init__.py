"""Roundup's compatibility shims (anypy) as tracker code imports them:
each names the Python 3 standard module it stands for."""
