"""Reads an mbox file with Python's mailbox module, as Roundup does.

Usage: mbox.py dump PATH   -- prints a JSON list of [From line, hex of the
                              message bytes] (Roundup's mbox reading)
       mbox.py lock PATH   -- tries mailbox's lock and prints "locked" or
                              "clash: <why>"
       mbox.py hold PATH   -- takes the lock, prints "held", waits for a line
                              on standard input, then releases it
Used by tests/python_crosscheck.rs.
"""
import json
import mailbox
import sys

mode, path = sys.argv[1], sys.argv[2]
box = mailbox.mbox(path, create=False)
if mode == "dump":
    out = []
    for key in box.keys():
        msg = box.get(key)
        out.append([msg.get_from(), box.get_bytes(key).hex()])
    print(json.dumps(out))
elif mode == "lock":
    try:
        box.lock()
    except mailbox.ExternalClashError as e:
        print("clash: %s" % e)
    else:
        print("locked")
        box.unlock()
elif mode == "hold":
    box.lock()
    print("held", flush=True)
    sys.stdin.readline()
    box.unlock()
box.close()
