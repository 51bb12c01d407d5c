//! Page templates in Jinja2 syntax (minijinja) and the object model they
//! see, shaped like Roundup's templating API.
//!
//! [`Templates::load`] compiles the tracker's `html/` directory once;
//! files missing there fall back to the copies embedded for the tracker's
//! template (classic, minimal). [`Templates::render`] renders a [`View`]
//! for one request: `<class>.<template>.html`, else
//! `_generic.<template>.html`; without a class `home.html` or
//! `home.<template>.html`. Files ending in `.html` are auto-escaped.
//!
//! # What templates see
//!
//! Everything below checks the render user's permissions: values they may
//! not View render as `[hidden]` (and are never loaded), items they may
//! not View are left out of lists and batches, and `field()`/`menu()`
//! give edit controls only with Edit (existing items) or Create (new
//! items) permission, else the plain value. Method names are Roundup's.
//!
//! **`context`**: `none` on home pages, a *class* on class pages (index,
//! search, new item), an *item* on item pages.
//!
//! *Class* (`context`, `db.issue`, `db["user"]`): `.classname`; `.id` is
//! none; `.<prop>` is a property whose value comes from the form (for
//! new-item forms); `list()` (active items by order property), `filter(filterspec={...},
//! sort="-activity" | [("-", "activity")], group=..., limit=N)`,
//! `getItem(id)`, `lookup(key)`, `getkey()`, `labelprop()`, `propnames()`
//! (`id` + sorted properties), `properties(cansearch=true)`, `csv()`,
//! `classhelp("id,title", property="superseder", label=, pagesize=, sort=, filter="status=1,2")`,
//! `submit(label=, action="new")`, `is_view_ok()`, `is_edit_ok()`,
//! `is_create_ok()`, `is_retire_ok()`, `is_restore_ok()`, `is_search_ok()`.
//!
//! *Item* (`context` on item pages, batch rows, linked items):
//! `.id`, `.classname`, `.<prop>` (a property; `item["name"]` for
//! properties named like methods); renders as its label. `designator()`,
//! `is_view_ok()`, `is_edit_ok()`, `is_retire_ok()`, `is_restore_ok()`,
//! `is_retired()`, `history(showall=false)` (journal as an HTML table),
//! `journal()` (entries with date, user, action, changes),
//! `submit(label=, action="edit")` (hidden `@action`, `@csrf`,
//! `@lastactivity` and the button), `download_url()` (files), and for users
//! `hasPermission(perm, classname, property=, itemid=)`, `hasRole(role)`.
//!
//! *Property* (`context.title`, `issue.status`): renders as its plain
//! text; true when set. `plain(hyperlink=false)`, `hyperlinked()` (URLs,
//! e-mail addresses and designators such as `issue42` become links),
//! `breaklines()` (hyperlinked, line breaks kept), `wrapped(columns=80)`,
//! `markdown()` (sanitised; `[markdown] break_on_newline`), `email()`,
//! `url_quote()`, `field(size=, showid=, display_time=, format=, type=,
//! y_label=, n_label=, u_label=, **html_attributes)`, `multiline(rows=, cols=)`,
//! `confirm()` (password confirmation field), `menu(height=, showid=,
//! size=, additional=[...], sort_on=, value=, filterspec={...})` for
//! Link/Multilink, `link(showid=)`, `pretty(format)` (dates: strftime;
//! intervals; numbers: `%0.3f`), `local(tz)`, `reldate()`, `now()`,
//! `isset()`, `is_view_ok()`, `is_edit_ok()`, `sorted(prop, reverse=)`,
//! `reverse()`; `._name`, `._value` (raw: ids for links), `._formname`.
//! A Link property stands for the linked item (`issue.status.name`,
//! `issue.assignedto.id`); a Multilink iterates over the linked items.
//! Labels of linked items are shown when the link property is viewable
//! (as Roundup does), even if the linked item's own label is not.
//!
//! **`request`**: `base`, `classname`, `itemid`, `template`, `path`,
//! `method`, `user` (the user item), `userid`, `username`, `nonce`,
//! `csrf_token`, `form` (`request.form["x"].value`, `.values`,
//! `request.form.getvalue("x", default)`, `.getlist("x")`, `.has("x")`),
//! the index arguments `columns`, `show` (`request.show.title`), `sort`
//! and `group` (lists of `("+"|"-", prop)`), `filter`, `filterspec`,
//! `search_text`, `pagesize`, `startwith`, `dispname`; and
//! `batch()`, `indexargs_url(url, {"@sort": "-id", "x": none})`,
//! `indexargs_form(columns=, sort=, group=, filter=, filterspec=,
//! search_text=, pagesize=, startwith=)`, `description()`, `current_url()`.
//! Sort, group and filter properties the user may not search are dropped.
//!
//! *Batch* (`request.batch()`): iterates over the page's items; `first`
//! (0-based), `start` (1-based), `end`, `length`, `sequence_length`,
//! `pagesize`, `previous_start`/`next_start` (none at the ends),
//! `error` (a bad filter value), `grouped()` (list of `{heading, items}`).
//!
//! **`db`**: classes by name; `db.classes()`, `db.getuid()`.
//! **`utils`**: `url_quote(s)`, `html_quote(s)`, `anti_csrf_nonce()`,
//! `csrf_field()`, `timestamp()` (for the registration form's
//! `opaqueregister` field), `hyperlink(s)`, `designator(class, id)`,
//! `item_link(class, id, label)`, `Batch(seq, size, start)`,
//! `local_replace(s)`. **`config`**: settings by Roundup's upper-case names
//! (`config.TRACKER_NAME`; passwords and keys are not available).
//! **`tracker`**: `name`, `web`, `base`. **`messages`**: `{ok, error}`
//! lists of plain-text status messages. **`view`**: the resolved view.
//! Functions `_()`, `gettext()`, `ngettext()` (identity for now),
//! `csrf_field()`; filters `breaklines` (escape, keep line breaks) and
//! `linkify`. Python-style string and dict methods (`s.split(",")`,
//! `d.items()`) work as in Roundup's Jinja2 templates.

mod ctx;
mod extobj;
mod history;
pub mod html;
pub mod model;
pub mod request;
pub mod utils;

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::Path;
use std::sync::Arc;

use minijinja::{context, Environment, Value as JValue};
use roundup_core::Error;
use roundup_tracker::Tracker;

use crate::request::WebRequest;

/// Which page to render: class and item from the URL, and the template
/// name (`index`, `item`, `search`, `home`, `404`, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct View {
    pub classname: Option<String>,
    pub itemid: Option<String>,
    pub template: String,
}

/// Status messages to show at the top of the page (plain text; they are
/// escaped, and line breaks are kept).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageMessages {
    pub ok: Vec<String>,
    pub error: Vec<String>,
}

/// The compiled templates of one tracker.
pub struct Templates {
    env: Environment<'static>,
    /// Names of the templates found in the tracker's html directory.
    local: BTreeSet<String>,
    /// The embedded template whose html files are the fallback.
    embedded: Option<String>,
    /// The home's page templates written in TAL (`template_engine` is
    /// `zopetal` or `chameleon`), compiled.
    tal: Arc<TalPages>,
}

/// A home's TAL page templates by file name; `templates/page` in a
/// template finds `page.html` here.
#[derive(Debug, Default)]
pub struct TalPages {
    programs: HashMap<String, Arc<roundup_tal::Program>>,
}

impl roundup_tal::Loader for TalPages {
    fn load(&self, name: &str) -> Result<Option<Arc<roundup_tal::Program>>, roundup_tal::TalError> {
        Ok(["", ".html", ".xml", ".htm"]
            .iter()
            .find_map(|ext| self.programs.get(&format!("{name}{ext}")))
            .cloned())
    }
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("local", &self.local)
            .field("embedded", &self.embedded)
            .field("tal", &self.tal.programs.len())
            .finish()
    }
}

/// Files compiled as templates; others (CSS, JS, images) are static.
fn is_template_file(name: &str) -> bool {
    [".html", ".htm", ".xml", ".txt", ".json", ".csv", ".tmpl"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// A template error as a readable message naming file and line.
fn describe(err: &minijinja::Error, fallback_name: &str) -> String {
    let name = err.name().unwrap_or(fallback_name);
    let detail = err
        .detail()
        .map(str::to_string)
        .unwrap_or_else(|| err.kind().to_string());
    let mut msg = match err.line() {
        Some(line) => format!("template {name}, line {line}: {detail}"),
        None => format!("template {name}: {detail}"),
    };
    // Errors raised inside included templates carry the cause.
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        if let Some(inner) = s.downcast_ref::<minijinja::Error>() {
            let n = inner.name().unwrap_or("?");
            match inner.line() {
                Some(l) => msg.push_str(&format!(
                    "; in {n}, line {l}: {}",
                    inner.detail().unwrap_or("")
                )),
                None => msg.push_str(&format!("; {}", inner.detail().unwrap_or(""))),
            }
        }
        source = s.source();
    }
    msg
}

/// Whether a page template is TAL (Roundup's zopetal/chameleon dialect)
/// rather than Jinja: TAL marks its statements with `tal:`/`metal:`
/// attributes and has no Jinja tags.
fn is_tal(source: &str, dialect: roundup_tal::Dialect) -> bool {
    let marked = source.contains("tal:")
        || source.contains("metal:")
        || (dialect == roundup_tal::Dialect::Chameleon && source.contains("${"));
    marked && !source.contains("{%") && !source.contains("{{")
}

/// The function `{% trans %}` blocks are rewritten to call.
const TRANS_FN: &str = "__roundup_trans";

/// Roundup's Jinja2 templates mark translatable text with the i18n
/// extension's `{% trans %}...{% endtrans %}`, which minijinja lacks: each
/// block becomes a call translating its text (whitespace control kept).
fn with_trans_calls(source: &str) -> String {
    if !source.contains("trans") {
        return source.to_string();
    }
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    // (the open `{% trans %}`'s leading `-`)
    let mut open: Option<bool> = None;
    let mut text = String::new();
    while let Some(start) = rest.find("{%") {
        let Some(len) = rest[start..].find("%}") else {
            break;
        };
        let tag = &rest[start + 2..start + len];
        let word = tag.trim_matches(|c: char| c == '-' || c.is_whitespace());
        let (lead, trail) = (tag.starts_with('-'), tag.ends_with('-'));
        match (word, open) {
            ("trans", None) => {
                out.push_str(&rest[..start]);
                open = Some(lead);
                text.clear();
                if trail {
                    rest = rest[start + len + 2..].trim_start();
                    continue;
                }
            }
            ("endtrans", Some(lead_open)) => {
                text.push_str(&rest[..start]);
                if lead {
                    text.truncate(text.trim_end().len());
                }
                let mut lit = String::with_capacity(text.len() + 2);
                lit.push('"');
                for c in text.chars() {
                    match c {
                        '"' => lit.push_str("\\\""),
                        '\\' => lit.push_str("\\\\"),
                        '\n' => lit.push_str("\\n"),
                        '\r' => lit.push_str("\\r"),
                        '\t' => lit.push_str("\\t"),
                        c => lit.push(c),
                    }
                }
                lit.push('"');
                out.push_str(if lead_open { "{{- " } else { "{{ " });
                out.push_str(TRANS_FN);
                out.push('(');
                out.push_str(&lit);
                out.push_str(if trail { ") -}}" } else { ") }}" });
                open = None;
            }
            (_, Some(_)) => text.push_str(&rest[..start + len + 2]),
            (_, None) => out.push_str(&rest[..start + len + 2]),
        }
        rest = &rest[start + len + 2..];
    }
    if open.is_some() {
        out.push_str(&text);
    }
    out.push_str(rest);
    out
}

/// Page `name` of built-in template `tpl`. Templates without pages of
/// their own (devel, responsive, jinja2) are served classic's, whose
/// generic pages fit any schema.
fn embedded_page(tpl: &str, name: &str) -> Option<&'static [u8]> {
    let has_pages = roundup_tracker::templates::file(tpl, "html/page.html").is_some();
    let tpl = if has_pages { tpl } else { "classic" };
    roundup_tracker::templates::file(tpl, &format!("html/{name}"))
}

fn collect_files(
    dir: &Path,
    prefix: &str,
    out: &mut Vec<(String, std::path::PathBuf)>,
) -> Result<(), Error> {
    let entries = fs::read_dir(dir)
        .map_err(|e| Error::io(format!("listing templates in {}", dir.display()), e))?;
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let Some(fname) = p.file_name().and_then(|f| f.to_str()).map(str::to_string) else {
            continue;
        };
        if fname.starts_with('.') {
            continue;
        }
        let name = format!("{prefix}{fname}");
        if p.is_dir() {
            collect_files(&p, &format!("{name}/"), out)?;
        } else if is_template_file(&name) {
            out.push((name, p));
        }
    }
    Ok(())
}

impl Templates {
    /// Compile the tracker's templates: every template file of its html
    /// directory (`[main] templates`), falling back to the embedded copies
    /// of the template the tracker was installed from. A syntax error is
    /// reported with the file and line.
    pub fn load(tracker: &Tracker) -> Result<Templates, Error> {
        let dir = tracker.config().templates_dir();
        // Roundup's install names a home "<template>-<home>" in its
        // TEMPLATE-INFO.txt; ours names it after the template.
        let embedded = fs::read_to_string(tracker.home().join("TEMPLATE-INFO.txt"))
            .ok()
            .map(|text| {
                roundup_tracker::templates::parse_info("", &text)
                    .name
                    .to_lowercase()
            })
            .and_then(|n| {
                let prefix = n.split('-').next().unwrap_or_default().to_string();
                [n, prefix]
                    .into_iter()
                    .find(|n| roundup_tracker::templates::exists(n))
            });
        // Page templates in TAL (Roundup's zopetal and chameleon engines)
        // are compiled by roundup-tal; the others are Jinja2 (minijinja).
        let engine = tracker.config().template_engine();
        let tal_engine = engine != "jinja2";
        let dialect = if engine == "chameleon" {
            roundup_tal::Dialect::Chameleon
        } else {
            roundup_tal::Dialect::Zope
        };
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        // Python string/dict/list methods (`s.split(",")`, `d.items()`), as
        // Roundup's Jinja2 templates use them.
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        let mut tal = TalPages::default();
        let mut local = BTreeSet::new();
        if dir.is_dir() {
            let mut files = Vec::new();
            collect_files(&dir, "", &mut files)?;
            for (name, path) in files {
                let source = fs::read_to_string(&path)
                    .map_err(|e| Error::io(format!("reading template {}", path.display()), e))?;
                if tal_engine && is_tal(&source, dialect) {
                    let program =
                        roundup_tal::compile_as(&path.display().to_string(), &source, dialect)
                            .map_err(|e| Error::Config(e.to_string()))?;
                    tal.programs.insert(name.clone(), program);
                    local.insert(name);
                    continue;
                }
                let source = with_trans_calls(&source);
                env.add_template_owned(name.clone(), source).map_err(|e| {
                    let line = e.line().map(|l| format!(", line {l}")).unwrap_or_default();
                    Error::Config(format!(
                        "template {}{line}: {}",
                        path.display(),
                        e.detail().unwrap_or("syntax error")
                    ))
                })?;
                local.insert(name);
            }
        }
        if let Some(tpl) = embedded.clone() {
            env.set_loader(move |name| {
                Ok(embedded_page(&tpl, name).map(|b| String::from_utf8_lossy(b).into_owned()))
            });
        }
        env.add_global("db", JValue::from_object(model::DbObj));
        env.add_global("request", JValue::from_object(request::RequestObj));
        env.add_global("utils", JValue::from_object(utils::UtilsObj));
        env.add_global("config", JValue::from_object(utils::ConfigObj));
        env.add_global("tracker", JValue::from_object(utils::TrackerObj));
        env.add_global("i18n", JValue::from_object(I18nObj));
        // Roundup's context gives Jinja2 pages `gettext` and `ngettext`
        // (and the i18n extension `_`), in the request's language.
        env.add_function("_", jinja_gettext);
        env.add_function("gettext", jinja_gettext);
        env.add_function("ngettext", jinja_ngettext);
        // `{% trans %}text{% endtrans %}`, rewritten when the template is
        // read: the translation is markup, as the i18n extension marks it.
        env.add_function(TRANS_FN, |s: String| -> Result<JValue, minijinja::Error> {
            let s = s.replace("%%", "%");
            Ok(JValue::from_safe_string(translated(&s)))
        });
        // Jinja2's `dict` is Python's: a mapping or a list of pairs, and
        // keywords (minijinja's takes keywords only).
        env.add_function("dict", py_dict);
        // Roundup's Jinja2 engine's `u` (text as unicode): the identity
        // here, where all text is already unicode.
        env.add_filter("u", |v: JValue| v);
        env.add_filter("breaklines", |s: String| {
            JValue::from_safe_string(html::breaks(&html::escape(&s)))
        });
        env.add_filter("linkify", |s: String| -> Result<JValue, minijinja::Error> {
            ctx::with(|c| {
                Ok(JValue::from_safe_string(html::linkify(&s, &|n| {
                    c.is_class(n)
                })))
            })
        });
        env.add_function("csrf_field", || -> Result<JValue, minijinja::Error> {
            ctx::with(|c| Ok(JValue::from_safe_string(model::csrf_field(c))))
        });
        let templates = Templates {
            env,
            local,
            embedded,
            tal: Arc::new(tal),
        };
        // Compile the embedded pages now too, so their errors surface at load.
        templates.check_embedded()?;
        Ok(templates)
    }

    fn check_embedded(&self) -> Result<(), Error> {
        // The embedded files are ours and tested; only the page layout is
        // compiled eagerly, as every page extends it.
        if self.embedded.is_some() && !self.local.contains("page.html") && self.exists("page.html")
        {
            self.env
                .get_template("page.html")
                .map_err(|e| Error::Config(describe(&e, "page.html")))?;
        }
        Ok(())
    }

    fn exists(&self, name: &str) -> bool {
        if self.local.contains(name) {
            return true;
        }
        match &self.embedded {
            Some(t) => embedded_page(t, name).is_some(),
            None => false,
        }
    }

    /// The template file a view resolves to, if any.
    pub fn resolve(&self, classname: Option<&str>, template: &str) -> Option<String> {
        let candidates = candidates(classname, template);
        candidates.into_iter().find(|c| self.exists(c))
    }

    /// Whether this view renders a TAL page template of the home.
    pub fn is_tal(&self, classname: Option<&str>, template: &str) -> bool {
        self.resolve(classname, template)
            .is_some_and(|name| self.tal.programs.contains_key(&name))
    }

    /// Whether a template exists for this class (or the home page) and
    /// template name.
    pub fn has(&self, classname: Option<&str>, template: &str) -> bool {
        self.resolve(classname, template).is_some()
    }

    /// Render a page for the request's user.
    pub fn render(
        &self,
        db: &roundup_core::Db,
        tracker: &Tracker,
        req: &WebRequest,
        view: &View,
        messages: &PageMessages,
    ) -> Result<String, Error> {
        let template = if view.template.is_empty() {
            match (&view.classname, &view.itemid) {
                (Some(_), Some(_)) => "item",
                (Some(_), None) => "index",
                (None, _) => "home",
            }
        } else {
            view.template.as_str()
        };
        let name = self
            .resolve(view.classname.as_deref(), template)
            .ok_or_else(|| {
                Error::Value(format!(
                    "no template for {}: looked for {}",
                    match &view.classname {
                        Some(c) => format!("class \"{c}\" view \"{template}\""),
                        None => format!("home view \"{template}\""),
                    },
                    candidates(view.classname.as_deref(), template).join(", ")
                ))
            })?;
        let class_exists = |c: &str| db.schema().classes.contains_key(c);
        let context_value = match (&view.classname, &view.itemid) {
            // The not-found page names what was asked for, which may not exist.
            (Some(c), _) if template == "404" => {
                if class_exists(c) {
                    model::ClassObj::value(c)
                } else {
                    JValue::from(())
                }
            }
            (Some(c), Some(id)) => {
                db.class(c)?;
                if !db.has_node(c, id)? {
                    return Err(Error::NoSuchNode {
                        class: c.clone(),
                        id: id.clone(),
                    });
                }
                model::ItemObj::value(c, id)
            }
            (Some(c), None) => {
                db.class(c)?;
                model::ClassObj::value(c)
            }
            (None, _) => JValue::from(()),
        };
        let view = View {
            template: template.to_string(),
            ..view.clone()
        };
        let mut rctx = ctx::RenderCtx::new(db, tracker, req, &view)?;
        rctx.page = Some((self, messages));
        // A page that failed after the model refused the user is a
        // refusal (Roundup's Unauthorised), not a template error.
        let failed = |rctx: &ctx::RenderCtx, message: String| match rctx.unauthorised.take() {
            Some(refusal) => Error::Unauthorised(refusal),
            None => Error::Value(message),
        };
        if let Some(program) = self.tal.programs.get(&name) {
            return ctx::enter(&rctx, || {
                let state = self.env.empty_state();
                roundup_tal::render_translated(
                    program,
                    self.tal.clone(),
                    &state,
                    tal_variables(context_value, messages),
                    &|m: &str| req.gettext(m).to_string(),
                )
            })
            .map_err(|e| failed(&rctx, e.to_string()));
        }
        let tmpl = self
            .env
            .get_template(&name)
            .map_err(|e| Error::Config(describe(&e, &name)))?;
        let vars = context! {
            context => context_value,
            // Roundup's name for the status messages (its jinja2 home's
            // page.html shows options.error_message), beside ours
            options => page_options(messages),
            messages => context! { ok => messages.ok.clone(), error => messages.error.clone() },
            view => context! { classname => view.classname.clone(), itemid => view.itemid.clone(), template => view.template.clone() },
        };
        ctx::enter(&rctx, || tmpl.render(vars)).map_err(|e| failed(&rctx, describe(&e, &name)))
    }
}

/// Roundup's `options`: the status messages as `ok_message` and
/// `error_message` (HTML: escaped text, line breaks kept).
fn page_options(messages: &PageMessages) -> JValue {
    let as_html = |list: &[String]| -> JValue {
        JValue::from(
            list.iter()
                .map(|m| html::breaks(&html::escape(m)))
                .collect::<Vec<_>>(),
        )
    };
    context! {
        ok_message => as_html(&messages.ok),
        error_message => as_html(&messages.error),
    }
}

/// What Roundup gives a TAL page: `context`, `request`, `db`, `utils`,
/// `config`, `tracker`, `true`, `false`, and the status messages as
/// `options/ok_message` and `options/error_message` (HTML: escaped text,
/// line breaks kept).
fn tal_variables(context: JValue, messages: &PageMessages) -> Vec<(String, JValue)> {
    let options = page_options(messages);
    vec![
        ("context".into(), context),
        ("request".into(), JValue::from_object(request::RequestObj)),
        ("db".into(), JValue::from_object(model::DbObj)),
        ("utils".into(), JValue::from_object(utils::UtilsObj)),
        ("config".into(), JValue::from_object(utils::ConfigObj)),
        ("tracker".into(), JValue::from_object(utils::TrackerObj)),
        ("true".into(), JValue::from(1)),
        ("false".into(), JValue::from(0)),
        ("options".into(), options),
        ("i18n".into(), JValue::from_object(I18nObj)),
    ]
}

/// A message in the language of the page being rendered (as written
/// outside a render).
fn translated(msgid: &str) -> String {
    ctx::with(|c| Ok(c.req.gettext(msgid).to_string())).unwrap_or_else(|_| msgid.to_string())
}

fn translated_plural(one: &str, many: &str, n: i64) -> String {
    let n = u64::try_from(n).unwrap_or(0);
    ctx::with(|c| Ok(c.req.translator.ngettext(one, many, n).to_string()))
        .unwrap_or_else(|_| if n == 1 { one } else { many }.to_string())
}

fn jinja_gettext(s: String) -> String {
    translated(&s)
}

fn jinja_ngettext(one: String, many: String, n: i64) -> String {
    translated_plural(&one, &many, n)
}

/// `i18n`: the request's message translation (Roundup's translator:
/// `gettext`, `ngettext` and their `u` forms).
#[derive(Debug)]
struct I18nObj;

impl minijinja::value::Object for I18nObj {
    fn call_method(
        self: &Arc<Self>,
        _state: &minijinja::State<'_, '_>,
        method: &str,
        args: &[JValue],
    ) -> Result<JValue, minijinja::Error> {
        match method {
            "gettext" | "ugettext" | "_" => {
                let (msg,): (String,) = minijinja::value::from_args(args)?;
                Ok(JValue::from(translated(&msg)))
            }
            "ngettext" | "ungettext" => {
                let (one, many, n): (String, String, i64) = minijinja::value::from_args(args)?;
                Ok(JValue::from(translated_plural(&one, &many, n)))
            }
            _ => Err(minijinja::Error::new(
                minijinja::ErrorKind::UnknownMethod,
                format!("i18n has no method {method}()"),
            )),
        }
    }
}

/// Python's `dict(mapping_or_pairs, **kwargs)` for Jinja2 templates.
fn py_dict(
    args: minijinja::value::Rest<JValue>,
    kwargs: minijinja::value::Kwargs,
) -> Result<JValue, minijinja::Error> {
    let bad = |m: String| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, m);
    if args.len() > 1 {
        return Err(bad(format!(
            "dict expected at most 1 argument, got {}",
            args.len()
        )));
    }
    let mut out: Vec<(JValue, JValue)> = Vec::new();
    let mut put = |k: JValue, v: JValue| match out.iter_mut().find(|(x, _)| *x == k) {
        Some(slot) => slot.1 = v,
        None => out.push((k, v)),
    };
    if let Some(first) = args.first() {
        match first.kind() {
            minijinja::value::ValueKind::Map => {
                for k in first.try_iter()? {
                    let v = first.get_item(&k)?;
                    put(k, v);
                }
            }
            minijinja::value::ValueKind::None | minijinja::value::ValueKind::Undefined => {}
            _ => {
                for (i, pair) in first.try_iter()?.enumerate() {
                    let items: Vec<JValue> = pair.try_iter()?.collect();
                    let [k, v] = <[JValue; 2]>::try_from(items).map_err(|items| {
                        bad(format!(
                            "dict update sequence element #{i} has length {}; 2 is required",
                            items.len()
                        ))
                    })?;
                    put(k, v);
                }
            }
        }
    }
    for k in kwargs.args() {
        put(JValue::from(k), kwargs.get::<JValue>(k)?);
    }
    Ok(JValue::from_iter(out))
}

/// Template files tried for a view, in order.
fn candidates(classname: Option<&str>, template: &str) -> Vec<String> {
    let safe = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
    };
    if !safe(template) {
        return Vec::new();
    }
    match classname {
        Some(c) if safe(c) => vec![
            format!("{c}.{template}.html"),
            format!("_generic.{template}.html"),
        ],
        Some(_) => Vec::new(),
        None if template == "home" => vec!["home.html".to_string()],
        None => vec![format!("home.{template}.html")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trans_blocks_become_calls() {
        assert_eq!(
            with_trans_calls("<p>{% trans %}page not found{% endtrans %}</p>"),
            format!("<p>{{{{ {TRANS_FN}(\"page not found\") }}}}</p>")
        );
        // text with quotes and lines, whitespace control, other tags kept
        assert_eq!(
            with_trans_calls("{%- trans -%}\n Say \"hi\"\\\n{%- endtrans %}{% if x %}y{% endif %}"),
            format!("{{{{- {TRANS_FN}(\"Say \\\"hi\\\"\\\\\") }}}}{{% if x %}}y{{% endif %}}")
        );
        assert_eq!(with_trans_calls("no blocks {{ x }}"), "no blocks {{ x }}");
        // an unclosed block keeps its text
        assert_eq!(with_trans_calls("a {% trans %}b"), "a b");
        // the rewritten template renders the text (no catalog: as written)
        let mut env = minijinja::Environment::new();
        env.add_function(TRANS_FN, |s: String| JValue::from_safe_string(s));
        let src = with_trans_calls("<b>{% trans %}Tom & <i>Jerry</i>{% endtrans %}</b>");
        env.add_template_owned("t", src).unwrap();
        let out = env.get_template("t").unwrap().render(()).unwrap();
        assert_eq!(out, "<b>Tom & <i>Jerry</i></b>");
    }
}
