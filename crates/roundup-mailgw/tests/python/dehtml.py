"""Runs Roundup 2.6's dehtml converter on HTML read from standard input.

Input: a JSON list of HTML documents. Output: one JSON string (the text)
per line. Used by tests/python_crosscheck.rs.
"""
import json
import sys

from roundup.dehtml import dehtml

convert = dehtml("dehtml").html2text
for html in json.load(sys.stdin):
    print(json.dumps(convert(html)))
