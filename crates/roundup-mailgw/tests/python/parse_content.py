"""Runs Roundup 2.6's parseContent on bodies read from standard input.

Input: a JSON list of [keep_quoted_text, leave_body_unchanged,
is_new_issue, body]. Output: one JSON [summary, content] per line.
Used by tests/python_crosscheck.rs.
"""
import json
import sys

from roundup import configuration
from roundup.mailgw import parseContent

config = configuration.CoreConfig()
for keep, leave, new_issue, body in json.load(sys.stdin):
    config["MAILGW_KEEP_QUOTED_TEXT"] = keep
    config["MAILGW_LEAVE_BODY_UNCHANGED"] = leave
    print(json.dumps(parseContent(body, config=config, is_new_issue=new_issue)))
