"""What tracker code uses of Roundup's mail gateway: parseContent()."""

import re

_DEFAULTS = {
    'MAILGW_KEEP_QUOTED_TEXT': 'yes',
    'MAILGW_LEAVE_BODY_UNCHANGED': 'no',
    'MAILGW_EOL_RE': r'[\r\n]+',
    'MAILGW_SIGN_RE': r'^[>|\s]*-- ?$',
    'MAILGW_ORIGMSG_RE': r'^[>|\s]*-----\s?Original Message\s?-----$',
    'MAILGW_BLANKLINE_RE': r'[\r\n]+\s*[\r\n]+',
}


def _opt(config, name):
    value = None
    if config is not None:
        try:
            value = config[name]
        except Exception:
            # unknown or unset: the gateway's default
            value = None
    if value is None:
        value = _DEFAULTS[name]
    return value


def _regexp(config, name):
    value = _opt(config, name)
    if isinstance(value, str):
        return re.compile(value)
    return value


def _tristate(value, is_new_issue):
    if value is True or value is False:
        return value
    value = str(value).lower()
    if value == 'new':
        return bool(is_new_issue)
    return value in ('yes', 'true', '1', 'on')


def parseContent(content, keep_citations=None, keep_body=None, config=None,
                 is_new_issue=False):
    """(summary, content) of a message body: the summary is the first
    sentence or first line (whichever Roundup's rule picks) of the first
    section that is not quoted; quoted sections, signatures and
    forwarded originals are dropped from the content unless the tracker
    keeps them (mailgw keep_quoted_text, leave_body_unchanged)."""
    if keep_citations is None:
        keep_citations = _tristate(_opt(config, 'MAILGW_KEEP_QUOTED_TEXT'),
                                   is_new_issue)
    if keep_body is None:
        keep_body = _tristate(_opt(config, 'MAILGW_LEAVE_BODY_UNCHANGED'),
                              is_new_issue)
    eol = _regexp(config, 'MAILGW_EOL_RE')
    signature = _regexp(config, 'MAILGW_SIGN_RE')
    original = _regexp(config, 'MAILGW_ORIGMSG_RE')
    blank = _regexp(config, 'MAILGW_BLANKLINE_RE')

    sections = blank.split(content.lstrip('\r\n'))
    last = len(sections) - 1
    while last and not sections[last]:
        last -= 1

    summary = ''
    kept = []
    for index, section in enumerate(sections):
        if not section:
            continue
        lines = eol.split(section)
        first_quoted = bool(lines[0]) and lines[0][0] in '>|'
        second_quoted = len(lines) > 1 and bool(lines[1]) and lines[1][0] in '>|'
        if first_quoted or second_quoted:
            if index and not first_quoted and lines[0] and not keep_citations:
                if not lines[0].endswith(':'):
                    kept.append(lines[0])
            reply_at = None
            for n, line in enumerate(lines[1:]):
                if line and line[0] not in '>|':
                    reply_at = n
                    break
            if reply_at is None:
                if keep_citations:
                    kept.append(section)
                continue
            if not keep_citations:
                lines = lines[reply_at + 1:]
            section = '\n'.join(lines)

        if not summary:
            summary = section
        elif index == last and signature.match(lines[0]) and 2 <= len(lines) <= 10:
            break
        elif original.match(lines[0]):
            break
        kept.append(section)

    m = re.search(r'^([^!?\.]+[!?\.])', summary)
    sentence = m.group(1) if m else ''
    first_line = eol.split(summary)[0]
    summary = max(sentence, first_line)

    if not keep_body:
        content = '\n\n'.join(kept)
    return summary, content


class MailUsageError(ValueError):
    pass


class MailGW(object):
    """The base of an `interfaces.py` `MailGW` subclass. Our mail gateway
    is not this class: a subclass loads, and the tracker says at start
    that its overrides are not used."""
