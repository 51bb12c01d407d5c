"""Option types and errors of Roundup's configuration module, as tracker
code uses them (detectors reading their own config.ini)."""

import re

from roundup.exceptions import RoundupException


class ConfigurationError(RoundupException):
    pass


class ParsingOptionError(ConfigurationError):
    pass


class NoConfigError(ConfigurationError):
    pass


class InvalidOptionError(ConfigurationError, KeyError, AttributeError):
    pass


class OptionValueError(ConfigurationError, ValueError):
    def __init__(self, option, value, info=None):
        ConfigurationError.__init__(self, option, value, info)
        self.option, self.value, self.info = option, value, info

    def __str__(self):
        name = getattr(self.option, 'setting', self.option)
        msg = 'Invalid value for %s: %r' % (name, self.value)
        if self.info:
            msg += '\n' + str(self.info)
        return msg


class OptionUnsetError(ConfigurationError):
    """An option that is neither set nor has a default was read."""

    def __str__(self):
        option = self.args[0] if self.args else '?'
        return '%s is not set and has no default' % getattr(option, 'name', option)


class Option(object):
    class_description = None

    def __init__(self, config, section, setting, default=None,
                 description=None, aliases=None):
        self.config = config
        self.section = section
        self.setting = setting.lower() if setting else setting
        self.default = default
        self.description = description
        self.aliases = aliases or []
        self.value = None

    def str2value(self, value):
        return value

    def _value2str(self, value):
        return str(value)

    def value2str(self, value=None, current=0):
        if current:
            value = self.value
        return self._value2str(value)

    def set(self, value):
        self.value = self.str2value(value)

    def get(self):
        return self.value


class BooleanOption(Option):
    class_description = 'Allowed values: yes, no'

    def _value2str(self, value):
        return 'yes' if value else 'no'

    def str2value(self, value):
        if isinstance(value, str):
            v = value.lower()
            if v in ('yes', 'true', 'on', '1'):
                return 1
            if v in ('no', 'false', 'off', '0'):
                return 0
            raise OptionValueError(self, value, self.class_description)
        return 1 if value else 0


class IntegerNumberOption(Option):
    class_description = 'Allowed values: Integer Number'

    def str2value(self, value):
        try:
            return int(value)
        except ValueError:
            raise OptionValueError(self, value, self.class_description)


class IntegerNumberGeqZeroOption(IntegerNumberOption):
    class_description = 'Allowed values: Integer Number (>= 0)'

    def str2value(self, value):
        v = IntegerNumberOption.str2value(self, value)
        if v < 0:
            raise OptionValueError(self, value, self.class_description)
        return v


class FloatNumberOption(Option):
    class_description = 'Allowed values: Floating Point Number'

    def str2value(self, value):
        try:
            return float(value)
        except ValueError:
            raise OptionValueError(self, value, self.class_description)


class WordListOption(Option):
    class_description = 'Allowed values: comma-separated list of words'

    def str2value(self, value):
        return [w.strip() for w in value.split(',') if w.strip()]

    def _value2str(self, value):
        return ','.join(value)


class RegExpOption(Option):
    class_description = 'Value is Python Regular Expression'

    def __init__(self, config, section, setting, default=None,
                 description=None, aliases=None, flags=0):
        Option.__init__(self, config, section, setting, default,
                        description, aliases)
        self.flags = flags

    def str2value(self, value):
        try:
            return re.compile(value, self.flags)
        except re.error as e:
            raise OptionValueError(self, value, 'Invalid Regular Expression: %s' % e)

    def _value2str(self, value):
        return getattr(value, 'pattern', str(value))


class MailAddressOption(Option):
    pass


class FilePathOption(Option):
    pass


class EmailBodyOption(Option):
    pass
