"""Runs Roundup 2.6's subject parsing (parsedMessage.parse_subject and
get_classname) on subjects read from standard input.

Input: a JSON list of [subject, subject_prefix_parsing,
subject_suffix_delimiters, default_class, [class names]]. Output: one JSON
object per line with what was matched, the class chosen, or the kind of
error. The tracker is replaced by stubs that know only the class names.
Used by tests/python_crosscheck.rs.
"""
import json
import sys

from roundup import configuration
from roundup.mailgw import MailUsageError, parsedMessage


class StubDb:
    def __init__(self, classes):
        self.classes = classes

    def getclasses(self):
        return sorted(self.classes)

    def getclass(self, name):
        if name not in self.classes:
            raise KeyError(name)
        return StubClass()


class StubClass:
    def getprops(self):
        return {}


class StubGateway:
    pass


def error_kind(text):
    if "properly formed subject" in text:
        return "MalformedPrefix"
    if "class name you identified" in text:
        return "UnknownClass"
    if "did not identify a class name" in text:
        return "NoClass"
    return "other: " + text


config = configuration.CoreConfig()
for subject, prefix_mode, delimiters, default_class, classes in json.load(sys.stdin):
    config["MAILGW_SUBJECT_PREFIX_PARSING"] = prefix_mode
    config["MAILGW_SUBJECT_SUFFIX_DELIMITERS"] = delimiters
    parsed = parsedMessage.__new__(parsedMessage)
    parsed.config = config
    parsed.db = StubDb(classes)
    parsed.mailgw = StubGateway()
    parsed.mailgw.default_class = default_class
    parsed.subject = subject
    parsed.pfxmode = prefix_mode
    parsed.has_prefix = False
    parsed.matches = dict.fromkeys(
        ["refwd", "quote", "classname", "nodeid", "title", "args", "argswhole"])
    out = {}
    try:
        parsed.parse_subject()
        out = {k: parsed.matches[k] for k in
               ("refwd", "quote", "classname", "nodeid", "title", "args",
                "argswhole")}
        out["has_prefix"] = bool(parsed.has_prefix)
        parsed.get_classname()
        out["resolved"] = parsed.classname
    except MailUsageError as e:
        out["error"] = error_kind(str(e))
    print(json.dumps(out))
