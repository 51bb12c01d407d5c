"""Roundup's package for tracker code (schema.py, detectors, extensions,
initial_data.py), served by the Rust core of Roundup in Rust.

Tracker code imports from here exactly as it does under Roundup:
``from roundup import hyperdb, roundupdb, date, password``,
``from roundup.exceptions import Reject`` and so on.
"""

__version__ = '2.6.0'
