"""A plain token encoding of Python literal values shared with the Rust
tests (tests/pyrepr_*.rs), so values can cross between the two languages
without relying on repr() itself.

Tokens are separated by single spaces:
  N T F                  None, True, False
  i:<decimal>            int
  f:<16 hex digits>      float, by its IEEE-754 bits
  s:<hex of UTF-8>       str
  b:<hex>                bytes
  t:<n> / l:<n>          tuple / list, followed by n values
  d:<n>                  dict, followed by n key/value pairs
"""
import struct


def encode(v):
    out = []
    _enc(v, out)
    return " ".join(out)


def _enc(v, out):
    if v is None:
        out.append("N")
    elif v is True:
        out.append("T")
    elif v is False:
        out.append("F")
    elif isinstance(v, int):
        out.append("i:%d" % v)
    elif isinstance(v, float):
        out.append("f:%016x" % struct.unpack(">Q", struct.pack(">d", v))[0])
    elif isinstance(v, str):
        out.append("s:" + v.encode("utf-8").hex())
    elif isinstance(v, bytes):
        out.append("b:" + v.hex())
    elif isinstance(v, (tuple, list)):
        out.append("%s:%d" % ("t" if isinstance(v, tuple) else "l", len(v)))
        for item in v:
            _enc(item, out)
    elif isinstance(v, dict):
        out.append("d:%d" % len(v))
        for key, value in v.items():
            _enc(key, out)
            _enc(value, out)
    else:
        raise TypeError("cannot encode %r" % (v,))


def decode(text):
    tokens = text.split(" ")
    value, rest = _dec(tokens, 0)
    if rest != len(tokens):
        raise ValueError("trailing tokens in %r" % text)
    return value


def _dec(tokens, i):
    tok = tokens[i]
    tag, _, arg = tok.partition(":")
    i += 1
    if tag == "N":
        return None, i
    if tag == "T":
        return True, i
    if tag == "F":
        return False, i
    if tag == "i":
        return int(arg), i
    if tag == "f":
        return struct.unpack(">d", bytes.fromhex(arg))[0], i
    if tag == "s":
        return bytes.fromhex(arg).decode("utf-8"), i
    if tag == "b":
        return bytes.fromhex(arg), i
    if tag in ("t", "l"):
        items = []
        for _ in range(int(arg)):
            item, i = _dec(tokens, i)
            items.append(item)
        return (tuple(items) if tag == "t" else items), i
    if tag == "d":
        d = {}
        for _ in range(int(arg)):
            key, i = _dec(tokens, i)
            value, i = _dec(tokens, i)
            d[key] = value
        return d, i
    raise ValueError("bad token %r" % tok)
