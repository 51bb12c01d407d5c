"""Timing helpers as anypy.time_ offers."""

import time as _time

perf_counter = _time.perf_counter
