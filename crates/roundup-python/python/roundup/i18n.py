"""Message translation for tracker code. Messages are returned as given
(the tracker's own translations are applied by the web front end)."""


def _(message):
    return message


gettext = _


def ngettext(singular, plural, n):
    return singular if n == 1 else plural


def get_translation(language=None, tracker_home=None, translation_class=None):
    return _Translation()


class _Translation:
    def gettext(self, message):
        return message

    def ngettext(self, singular, plural, n):
        return singular if n == 1 else plural

    ugettext = gettext
    ungettext = ngettext
