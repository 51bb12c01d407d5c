"""Templating helpers as `interfaces.py` and extensions see them."""


class NoTemplate(Exception):
    pass


class TemplatingUtils(object):
    """`utils` in page templates. The public methods a subclass of this in
    interfaces.py adds are offered to templates as `utils.<name>`."""

    def __init__(self, client=None):
        self.client = client
        if client is not None:
            self.db = getattr(client, 'db', None)
        else:
            from roundup._engine import the_db
            self.db = the_db()
