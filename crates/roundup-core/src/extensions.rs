//! What a tracker's `extensions/*.py` register (Roundup's
//! `instance.registerUtil`, `registerUtilMethod`, `registerAction`), as
//! trait objects the front ends call without knowing the script engine.

use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;

use crate::db::Db;
use crate::error::Result;
use crate::pyrepr::PyValue;

/// A function templates call as `utils.<name>(...)`.
pub trait TemplateUtil: Send + Sync + fmt::Debug {
    /// Call it with the page's database (acting as the page's user).
    fn call(&self, db: &Db, args: &[UtilValue]) -> Result<UtilValue>;
}

/// A value passed between a page template and an extension function:
/// plain data, or one of the page's template objects (an item, a
/// property, ...), which the function uses through its attributes and
/// methods as Roundup's `HTMLItem`/`HTMLProperty` are used
/// (`prop.plain()`, `prop.field()`, `item['title']`).
#[derive(Clone, Debug)]
pub enum UtilValue {
    Data(PyValue),
    Object(Arc<dyn TemplateObject>),
    /// A list that holds template objects.
    List(Vec<UtilValue>),
}

impl From<PyValue> for UtilValue {
    fn from(v: PyValue) -> Self {
        UtilValue::Data(v)
    }
}

/// A template object as an extension function sees it. The front end
/// that renders the page implements it; calls are valid only while the
/// extension function it was passed to runs.
pub trait TemplateObject: Send + Sync + fmt::Debug {
    /// For the front end to recognise its own objects coming back.
    fn as_any(&self) -> &dyn std::any::Any;
    /// `obj.name`: an attribute, or a method to call; `None` if neither.
    fn getattr(&self, name: &str) -> Result<Option<UtilValue>>;
    /// `obj[key]`; `None` if there is no such key.
    fn getitem(&self, key: &UtilValue) -> Result<Option<UtilValue>>;
    /// `obj(*args, **kwargs)`.
    fn call(&self, args: Vec<UtilValue>, kwargs: Vec<(String, UtilValue)>) -> Result<UtilValue>;
    /// `str(obj)`.
    fn text(&self) -> String;
    /// `bool(obj)`.
    fn truth(&self) -> bool;
    /// The items of `iter(obj)`, if it can be iterated.
    fn items(&self) -> Result<Option<Vec<UtilValue>>>;
}

/// One value of a submitted web form: text or an uploaded file (the web
/// front end's form values, as web actions see them too).
#[derive(Clone, Debug, PartialEq)]
pub enum FormField {
    Text(String),
    File {
        filename: String,
        content_type: String,
        content: Vec<u8>,
    },
}

/// What a web action (Roundup's `Action`) is given: the request as the
/// web front end parsed it. The action's database acts as `userid`.
#[derive(Clone, Debug, Default)]
pub struct ActionRequest {
    /// The action's name (`@action`), lower case.
    pub name: String,
    pub method: String,
    /// Tracker base URL, ending in `/`.
    pub base: String,
    pub userid: String,
    pub classname: Option<String>,
    pub nodeid: Option<String>,
    pub template: String,
    pub form: Vec<(String, FormField)>,
}

/// How a web action ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionOutcome {
    /// Render the page (`handle()` returned None).
    Render,
    /// 302 to the URL (`raise Redirect(url)`).
    Redirect(String),
    /// This text is the whole response (`handle()` returned a string).
    Body(String),
    /// 403 with the message (`raise Unauthorised(...)`).
    Unauthorised(String),
    /// 404 with the message (`raise NotFound(...)`).
    NotFound(String),
}

/// A web action's result: its outcome plus what it said to the user and
/// changed on the client (the page to render, extra headers).
#[derive(Clone, Debug)]
pub struct ActionResult {
    pub outcome: ActionOutcome,
    /// Whether its database changes stand (false: it refused with
    /// `Reject`/`ValueError`, which are shown as error messages).
    pub commit: bool,
    pub ok: Vec<String>,
    pub err: Vec<String>,
    /// A template the action chose (`self.client.template = ...`).
    pub template: Option<String>,
    pub headers: Vec<(String, String)>,
}

/// A web action an extension registered (`instance.registerAction`).
pub trait WebAction: Send + Sync + fmt::Debug {
    /// Run it against the request's database.
    fn run(&self, db: &Db, request: &ActionRequest) -> Result<ActionResult>;
}

/// The registrations of a tracker's extensions.
#[derive(Clone, Debug, Default)]
pub struct Extensions {
    /// `utils.<name>` for templates, by name.
    pub utils: IndexMap<String, Arc<dyn TemplateUtil>>,
    /// Web actions by name (lower case), before the default ones.
    pub actions: IndexMap<String, Arc<dyn WebAction>>,
    /// Classes of `interfaces.py` that are read but not used by our
    /// front ends (`Client`, `MailGW` subclasses), for a warning.
    pub unused: Vec<String>,
}

impl Extensions {
    pub fn util(&self, name: &str) -> Option<&Arc<dyn TemplateUtil>> {
        self.utils.get(name)
    }

    pub fn action(&self, name: &str) -> Option<&Arc<dyn WebAction>> {
        self.actions.get(&name.to_lowercase())
    }
}
