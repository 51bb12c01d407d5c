"""The base class of web actions that tracker extensions register with
`instance.registerAction(name, ActionClass)`."""

from roundup.exceptions import Unauthorised


class Action:
    """A web action: `handle()` does the work. `self.db`, `self.form`,
    `self.classname`, `self.nodeid`, `self.userid` are set by the front
    end before it is called."""

    name = ''
    permissionType = None

    def __init__(self, client):
        self.client = client
        self.form = getattr(client, 'form', {})
        self.db = getattr(client, 'db', None)
        self.nodeid = getattr(client, 'nodeid', None)
        self.template = getattr(client, 'template', None)
        self.classname = getattr(client, 'classname', None)
        self.userid = getattr(client, 'userid', None)
        self.base = getattr(client, 'base', '')
        self._ = getattr(client, '_', lambda m: m)
        self.gettext = self._

    def handle(self):
        raise NotImplementedError

    def execute(self):
        self.permission()
        return self.handle()

    def hasPermission(self, permission, classname=None, itemid=None,
                      property=None):
        if classname is None:
            classname = self.classname
        return self.db.security.hasPermission(permission, self.userid,
                                              classname, property, itemid)

    def permission(self):
        if self.permissionType and not self.hasPermission(self.permissionType):
            raise Unauthorised('You do not have permission to %s the %s class.'
                               % (self.name, self.classname))
