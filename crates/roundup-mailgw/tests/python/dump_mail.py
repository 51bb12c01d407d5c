"""Prints what Roundup 2.6's mail gateway reads from each message file.

Usage: dump_mail.py OPTIONS_JSON FILE...

OPTIONS_JSON has ignore_alternatives, unpack_rfc822 and convert (the
convert_htmltotext value). One JSON object per file is printed, one per
line: the decoded subject and addresses, the message ids, the body (null
when Roundup finds none) and the files as [name, type, hex of the bytes].
Used by tests/python_crosscheck.rs.
"""
import json
import sys

from roundup.anypy.email_ import message_from_bytes
from roundup.dehtml import dehtml
from roundup.mailgw import RoundupMessage


def as_bytes(data):
    if data is None:
        return b""
    if isinstance(data, str):
        return data.encode("utf-8", "surrogateescape")
    return data


def text(value):
    if value is None:
        return None
    return str(value)


def dump(path, opts):
    with open(path, "rb") as f:
        msg = message_from_bytes(f.read(), RoundupMessage)
    out = {"file": path}
    try:
        out["subject"] = text(msg.get_header("subject", ""))
    except Exception as e:  # noqa: BLE001 -- report, do not stop
        out["subject_error"] = repr(e)
    for name in ("from", "to", "cc", "resent-from"):
        try:
            out[name] = [[n, a] for n, a in msg.get_address_list(name)]
        except Exception as e:  # noqa: BLE001
            out[name + "_error"] = repr(e)
    for name in ("message-id", "in-reply-to"):
        try:
            out[name] = text(msg.get_header(name))
        except Exception as e:  # noqa: BLE001
            out[name + "_error"] = repr(e)
    try:
        html2text = dehtml(opts["convert"]).html2text
        content, attachments, _ = msg.extract_content(
            ignore_alternatives=opts["ignore_alternatives"],
            unpack_rfc822=opts["unpack_rfc822"],
            html2text=html2text,
        )
        out["content"] = content
        out["attachments"] = [
            [name or "unnamed", mime, as_bytes(data).hex()]
            for (name, mime, data) in (a for a in attachments if a is not None)
        ]
    except Exception as e:  # noqa: BLE001
        out["content_error"] = repr(e)
    return out


def main():
    opts = json.loads(sys.argv[1])
    for path in sys.argv[2:]:
        print(json.dumps(dump(path, opts)))


main()
