"""Prints the NOT_PRINTABLE table of src/pyrepr.rs: the inclusive code point
ranges for which Python's str.isprintable() is false, i.e. the characters
repr() escapes. Run with the Python whose repr() is the reference:

    /opt/rvenv/bin/python crates/roundup-core/tests/data/gen_pyrepr_printable.py
"""
import sys
import unicodedata

ranges = []
start = None
for cp in range(0x110000):
    hidden = not chr(cp).isprintable()
    if hidden and start is None:
        start = cp
    elif not hidden and start is not None:
        ranges.append((start, cp - 1))
        start = None
if start is not None:
    ranges.append((start, 0x10FFFF))

print("// Python %s, Unicode %s: %d ranges." % (
    sys.version.split()[0], unicodedata.unidata_version, len(ranges)))
print("const NOT_PRINTABLE: &[(u32, u32)] = &[")
line = "   "
for lo, hi in ranges:
    item = " (0x%x, 0x%x)," % (lo, hi)
    if len(line) + len(item) > 99:
        print(line)
        line = "   "
    line += item
print(line)
print("];")
