"""Roundup's Date and Interval values. Parsing, arithmetic and the
time-zone rules are the Rust core's (the same code the web and mail
front ends use); this module gives them Roundup's Python interface."""

import datetime as _datetime

import _roundup as _rt


def _fields(serial):
    # '%04d%02d%02d%02d%02d%06.3f'
    return (int(serial[0:4]), int(serial[4:6]), int(serial[6:8]),
            int(serial[8:10]), int(serial[10:12]), float(serial[12:]))


def _offset_arg(offset):
    if offset in (None, 0, '0', ''):
        return None
    if hasattr(offset, 'zone'):
        return offset.zone
    return offset


class Date:
    """A point in time (kept in UTC), from a Roundup date spec
    ("2003-04-05.12:00", "-1d", "." for now), a time tuple, a
    datetime, or another Date. `offset` is the zone the spec is in."""

    def __init__(self, spec='.', offset=0, add_granularity=False,
                 translator=None):
        self.translator = translator
        if isinstance(spec, Date):
            serial = spec.serialise()
        elif isinstance(spec, _datetime.datetime):
            if spec.tzinfo is not None:
                spec = spec.astimezone(_datetime.timezone.utc).replace(tzinfo=None)
            serial = '%04d%02d%02d%02d%02d%06.3f' % (
                spec.year, spec.month, spec.day, spec.hour, spec.minute,
                spec.second + spec.microsecond / 1e6)
        elif isinstance(spec, (tuple, list)):
            y, m, d, H, M, S = spec[:6]
            serial = '%04d%02d%02d%02d%02d%06.3f' % (y, m, d, H, M, S)
            if offset:
                serial = _rt.date_parse(
                    '%04d-%02d-%02d.%02d:%02d:%02d' % (y, m, d, H, M, int(S)),
                    _offset_arg(offset))
        else:
            serial = _rt.date_parse(str(spec), _offset_arg(offset))
        self._set(serial)

    @classmethod
    def _from_serial(cls, serial):
        d = cls.__new__(cls)
        d.translator = None
        d._set(serial)
        return d

    def _set(self, serial):
        self._serial = serial
        (self.year, self.month, self.day, self.hour, self.minute,
         self.second) = _fields(serial)

    def serialise(self):
        return self._serial

    def formal(self, sep='.', sec='%02d'):
        f = '%%04d-%%02d-%%02d%s%%02d:%%02d:%s' % (sep, sec)
        return f % (self.year, self.month, self.day, self.hour, self.minute,
                    self.second)

    def __str__(self):
        return self.formal()

    def __repr__(self):
        return '<Date %s>' % self.formal(sec='%06.3f')

    def isoformat(self):
        return self.formal(sep='T', sec='%02.6d')

    def pretty(self, format='%d %B %Y'):
        dt = _datetime.datetime(self.year, self.month, self.day, self.hour,
                                self.minute, int(self.second))
        text = dt.strftime(format)
        if format.startswith('%d') and text[:1] == '0':
            return ' ' + text[1:]
        return text

    def local(self, offset):
        """This date as wall-clock time in zone `offset`."""
        y, m, d, H, M, S = _rt.date_show('fields', self._serial, None,
                                         _offset_arg(offset))
        return Date._from_serial('%04d%02d%02d%02d%02d%06.3f'
                                 % (y, m, d, H, M, S))

    def get_tuple(self):
        return (self.year, self.month, self.day, self.hour, self.minute,
                self.second, 0, 0, 0)

    def timestamp(self):
        return _rt.date_show('timestamp', self._serial, None)

    def addInterval(self, interval):
        return _rt.date_op('add', self._serial, Interval(interval).serialise())

    def __add__(self, other):
        if isinstance(other, Interval):
            return Date._from_serial(_rt.date_op('add', self._serial,
                                                 other.serialise()))
        return NotImplemented

    def __sub__(self, other):
        if isinstance(other, Interval):
            return Date._from_serial(_rt.date_op('sub', self._serial,
                                                 other.serialise()))
        if isinstance(other, Date):
            return Interval(_rt.date_op('diff', self._serial,
                                        other.serialise()))
        return NotImplemented

    def _key(self):
        return self._serial

    def __eq__(self, other):
        if isinstance(other, Date):
            return self._serial == other._serial
        return False

    def __ne__(self, other):
        return not self.__eq__(other)

    def __lt__(self, other):
        if other is None:
            return False
        return self._serial < Date(other)._serial

    def __le__(self, other):
        if other is None:
            return False
        return self._serial <= Date(other)._serial

    def __gt__(self, other):
        if other is None:
            return True
        return self._serial > Date(other)._serial

    def __ge__(self, other):
        if other is None:
            return True
        return self._serial >= Date(other)._serial

    def __hash__(self):
        return hash(self._serial)


def _seconds_spec(seconds):
    """An interval spec the core parses ("-3d 1:02:03") for a number of
    seconds, in days, hours, minutes and seconds as Roundup's
    Interval.from_seconds() gives them."""
    n = int(seconds)
    sign = '-' if n < 0 else ''
    days, rest = divmod(abs(n), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return '%s%dd %d:%02d:%02d' % (sign, days, hours, minutes, secs)


class Interval:
    """A span of time: "3d", "- 1w 2d", "1:00", "2m" ..."""

    def __init__(self, spec='00:00', sign=1, allowdate=1, add_granularity=False,
                 translator=None):
        self.translator = translator
        if isinstance(spec, Interval):
            serial = spec.serialise()
        elif isinstance(spec, (int, float)):
            serial = _rt.interval_parse(_seconds_spec(spec))
        elif isinstance(spec, (tuple, list)):
            parts = list(spec)
            if len(parts) == 6:
                parts = [sign] + parts
            s, y, m, d, H, M, S = parts
            text = '%s%dy %dm %dd %d:%02d:%02d' % ('-' if s < 0 else '+',
                                                  y, m, d, H, M, S)
            serial = _rt.interval_parse(text)
        else:
            serial = _rt.interval_parse(str(spec))
        self._set(serial)

    def _set(self, serial):
        self._serial = serial
        (self.sign, self.year, self.month, self.day, self.hour, self.minute,
         self.second) = _rt.interval_fields(serial)

    def serialise(self):
        return self._serial

    def get_tuple(self):
        return (self.sign, self.year, self.month, self.day, self.hour,
                self.minute, self.second)

    def as_seconds(self):
        n = (self.year * 365 * 86400 + self.month * 30 * 86400 +
             self.day * 86400 + self.hour * 3600 + self.minute * 60 +
             self.second)
        return n * self.sign

    def __str__(self):
        parts = []
        if self.year:
            parts.append('%sy' % self.year)
        if self.month:
            parts.append('%sm' % self.month)
        if self.day:
            parts.append('%sd' % self.day)
        if self.second:
            parts.append('%d:%02d:%02d' % (self.hour, self.minute, self.second))
        elif self.hour or self.minute:
            parts.append('%d:%02d' % (self.hour, self.minute))
        if parts:
            parts.insert(0, '-' if self.sign < 0 else '+')
        else:
            parts.append('00:00')
        return ' '.join(parts)

    def __repr__(self):
        return '<Interval %s>' % self

    def pretty(self):
        return str(self)

    def __neg__(self):
        t = self.get_tuple()
        return Interval((-t[0],) + t[1:])

    def __add__(self, other):
        if isinstance(other, Date):
            return other + self
        if isinstance(other, Interval):
            return Interval(self.as_seconds() + other.as_seconds())
        return NotImplemented

    def __sub__(self, other):
        if isinstance(other, Interval):
            return Interval(self.as_seconds() - other.as_seconds())
        return NotImplemented

    def __eq__(self, other):
        if isinstance(other, Interval):
            return self.as_seconds() == other.as_seconds()
        return False

    def __ne__(self, other):
        return not self.__eq__(other)

    def __lt__(self, other):
        return other is not None and self.as_seconds() < Interval(other).as_seconds()

    def __le__(self, other):
        return other is not None and self.as_seconds() <= Interval(other).as_seconds()

    def __gt__(self, other):
        return other is None or self.as_seconds() > Interval(other).as_seconds()

    def __ge__(self, other):
        return other is None or self.as_seconds() >= Interval(other).as_seconds()

    def __hash__(self):
        return hash(self.as_seconds())


class _Zone(_datetime.tzinfo):
    """A zone known to the core, by name or offset in hours."""

    def __init__(self, zone):
        self.zone = zone

    def utcoffset(self, dt):
        if dt is None:
            dt = _datetime.datetime.utcnow()
        naive = dt.replace(tzinfo=None)
        serial = '%04d%02d%02d%02d%02d%06.3f' % (
            naive.year, naive.month, naive.day, naive.hour, naive.minute,
            naive.second)
        local = _rt.date_show('fields', serial, None, self.zone)
        lt = _datetime.datetime(*local)
        return lt - naive.replace(microsecond=0)

    def dst(self, dt):
        return _datetime.timedelta(0)

    def tzname(self, dt):
        return str(self.zone)

    def localize(self, dt, is_dst=False):
        return dt.replace(tzinfo=self)

    def __repr__(self):
        return '<Zone %s>' % self.zone


UTC = _Zone('UTC')


def get_timezone(tz):
    """The zone for a name ("Europe/Vienna") or an offset in hours; raises
    KeyError for unknown names, as Roundup 2.6 does without pytz."""
    if tz is None:
        return None
    try:
        offset = int(tz)
    except (TypeError, ValueError):
        pass
    else:
        if offset == 0:
            return UTC
        if not -23 <= offset <= 23:
            raise ValueError('time zone offset %s is outside -23...23' % offset)
        return _Zone(str(offset))
    if not _rt.valid_timezone(str(tz)):
        raise KeyError(tz)
    return _Zone(str(tz))


class Range:
    """A date or interval range "from;to" as used in filters."""

    def __init__(self, spec, Type, allow_granularity=True, **params):
        self.range_type = Type
        text = str(spec)
        if ';' in text:
            a, b = text.split(';', 1)
        else:
            a, b = text, text
        self.from_value = Type(a.strip(), **params) if a.strip() else None
        self.to_value = Type(b.strip(), **params) if b.strip() else None

    def __str__(self):
        return '%s;%s' % (self.from_value or '', self.to_value or '')
