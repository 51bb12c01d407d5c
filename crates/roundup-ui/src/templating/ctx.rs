//! The state of one page render, reachable from template objects.
//!
//! Template objects (minijinja values) must be `Send + Sync + 'static`,
//! while the database connection is borrowed and single-threaded. So the
//! objects hold only names and ids, and reach the connection through
//! [`with`], which finds the [`RenderCtx`] that [`enter`] installed for
//! the duration of `Templates::render` on this thread. Outside a render
//! the objects answer with an error instead of data.

use std::cell::{Cell, RefCell};

use minijinja::{Error as TplError, ErrorKind};
use roundup_core::authz::Subject;
use roundup_core::date::Timezone;
use roundup_core::schema::PropType;
use roundup_core::storage::StoredNode;
use roundup_core::FastHashMap;
use roundup_core::{Db, Value};
use roundup_tracker::Tracker;

use super::request::IndexArgs;
use super::View;
use crate::request::WebRequest;

/// Permission question (permission, class, property, item) as one
/// string, so that a memoised answer is found without allocating.
fn perm_key(
    buf: &mut String,
    perm: &str,
    class: Option<&str>,
    prop: Option<&str>,
    item: Option<&str>,
) {
    buf.clear();
    buf.push_str(perm);
    for part in [class, prop, item] {
        match part {
            Some(p) => {
                buf.push('\u{1}');
                buf.push_str(p);
            }
            None => buf.push('\u{2}'),
        }
    }
}

/// The permission answers of one render. Every cell of a page asks
/// whether it may be seen, so the class-level answers are found without
/// building a key: by class, then in the class's short list of
/// (permission, property) answers.
#[derive(Default)]
struct PermMemo {
    /// Class-level answers: class ("" for none) to (perm, prop, answer).
    by_class: FastHashMap<String, Vec<(String, Option<String>, bool)>>,
    /// Item-level answers (asked only where a check function applies),
    /// by [`perm_key`].
    by_item: FastHashMap<String, bool>,
    /// Whether a check function applies: class to (perm, answer).
    checked: FastHashMap<String, Vec<(String, bool)>>,
}

impl PermMemo {
    fn class_level(&self, perm: &str, class: Option<&str>, prop: Option<&str>) -> Option<bool> {
        self.by_class
            .get(class.unwrap_or(""))?
            .iter()
            .find(|(p, pr, _)| p == perm && pr.as_deref() == prop)
            .map(|e| e.2)
    }

    fn remember(&mut self, perm: &str, class: Option<&str>, prop: Option<&str>, answer: bool) {
        self.by_class
            .entry(class.unwrap_or("").to_string())
            .or_default()
            .push((perm.to_string(), prop.map(str::to_string), answer));
    }

    fn checked(&self, perm: &str, class: &str) -> Option<bool> {
        self.checked
            .get(class)?
            .iter()
            .find(|(p, _)| p == perm)
            .map(|e| e.1)
    }
}

/// Everything a template object may consult while a page renders.
pub(crate) struct RenderCtx<'a> {
    pub db: &'a Db,
    pub tracker: &'a Tracker,
    pub req: &'a WebRequest,
    pub view: &'a View,
    /// The user the page is rendered for.
    pub userid: String,
    pub roles: Vec<String>,
    /// The same user for the core's permission rules.
    pub who: Subject,
    pub tz: Timezone,
    pub index: IndexArgs,
    pub markdown_breaks: bool,
    /// The templates and messages of the page, for `renderWith`.
    pub page: Option<(&'a super::Templates, &'a super::PageMessages)>,
    perms: RefCell<PermMemo>,
    /// Scratch space for building item-level memo keys.
    key_buf: RefCell<String>,
    /// Items read during the render, by class and id.
    nodes: RefCell<FastHashMap<String, FastHashMap<String, std::sync::Arc<StoredNode>>>>,
    /// Items of a list read with only the columns it shows
    /// ([`RenderCtx::prefetch_columns`]), by class and id.
    partial: RefCell<FastHashMap<String, FastHashMap<String, StoredNode>>>,
    /// Set when the page refused the user (Roundup's templating raising
    /// `Unauthorised`): a page that then fails is answered as refused.
    pub unauthorised: RefCell<Option<String>>,
}

impl<'a> RenderCtx<'a> {
    pub fn new(
        db: &'a Db,
        tracker: &'a Tracker,
        req: &'a WebRequest,
        view: &'a View,
    ) -> roundup_core::Result<RenderCtx<'a>> {
        let userid = if req.userid.is_empty() {
            db.getuid()
        } else {
            req.userid.clone()
        };
        let who = Subject::user(db, &userid)?;
        let roles = who.roles.clone();
        let tz = db.timezone_of(&userid).unwrap_or(Timezone::Utc);
        let index = IndexArgs::parse(db, &who, view.classname.as_deref(), req);
        let markdown_breaks = tracker
            .config()
            .get_bool("markdown", "break_on_newline")
            .unwrap_or(false);
        Ok(RenderCtx {
            db,
            tracker,
            req,
            view,
            userid,
            roles,
            who,
            tz,
            index,
            markdown_breaks,
            page: None,
            perms: RefCell::new(PermMemo::default()),
            key_buf: RefCell::new(String::new()),
            nodes: RefCell::new(FastHashMap::default()),
            partial: RefCell::new(FastHashMap::default()),
            unauthorised: RefCell::new(None),
        })
    }

    /// Roundup's templating `Unauthorised(action, class)`: an error that,
    /// if it ends the page, answers it as a refusal (403 and the front
    /// page with the message), not as a template error.
    pub fn refuse(&self, action: &str, class: &str) -> TplError {
        let message = self.tr_fmt(
            "You are not allowed to %(action)s items of class %(class)s",
            &[("action", action), ("class", class)],
        );
        *self.unauthorised.borrow_mut() = Some(message.clone());
        TplError::new(ErrorKind::InvalidOperation, message)
    }

    /// Whether the render's user has `perm` (errors count as "no").
    ///
    /// Answers are memoised for the render. An item-level question is
    /// answered from the class-level one when no permission the user's
    /// roles hold for the class has a check function: then the item
    /// cannot change the answer.
    pub fn may(
        &self,
        perm: &str,
        class: Option<&str>,
        prop: Option<&str>,
        item: Option<&str>,
    ) -> bool {
        if item.is_some() {
            // Item-level answers follow from the class level unless a
            // check function is involved; no per-item bookkeeping then.
            if let Some(c) = class {
                if !self.may(perm, class, prop, None) {
                    return false;
                }
                if !self.has_checked(perm, c) {
                    return true;
                }
            }
            let key = {
                let mut buf = self.key_buf.borrow_mut();
                perm_key(&mut buf, perm, class, prop, item);
                if let Some(v) = self.perms.borrow().by_item.get(buf.as_str()) {
                    return *v;
                }
                buf.clone()
            };
            // No borrow is held while asking: a check function is the
            // tracker's code and may come back here.
            let answer = self.ask(perm, class, prop, item);
            self.perms.borrow_mut().by_item.insert(key, answer);
            return answer;
        }
        if let Some(v) = self.perms.borrow().class_level(perm, class, prop) {
            return v;
        }
        let answer = self.ask(perm, class, prop, None);
        self.perms.borrow_mut().remember(perm, class, prop, answer);
        answer
    }

    fn ask(&self, perm: &str, class: Option<&str>, prop: Option<&str>, item: Option<&str>) -> bool {
        self.who.may(self.db, perm, class, prop, item)
    }

    /// Whether any permission named `perm` that the user's roles hold for
    /// `class` carries a check function (so answers may differ per item).
    pub fn has_checked(&self, perm: &str, class: &str) -> bool {
        if let Some(v) = self.perms.borrow().checked(perm, class) {
            return v;
        }
        let found = self.who.has_checked(self.db, perm, class);
        self.perms
            .borrow_mut()
            .checked
            .entry(class.to_string())
            .or_default()
            .push((perm.to_string(), found));
        found
    }

    /// Whether the user may see this property (of this item).
    pub fn may_view(&self, class: &str, prop: Option<&str>, item: Option<&str>) -> bool {
        self.may("View", Some(class), prop, item)
    }

    /// Whether the user may change this property (of this item, or of
    /// new items when `item` is `None`).
    pub fn may_edit(&self, class: &str, prop: Option<&str>, item: Option<&str>) -> bool {
        match item {
            Some(_) => self.may("Edit", Some(class), prop, item),
            // Roundup: Create, or Register (the registration form).
            None => {
                self.may("Create", Some(class), prop, None)
                    || self.may("Register", Some(class), prop, None)
            }
        }
    }

    /// A stored item, memoised for the render.
    pub fn node(&self, class: &str, id: &str) -> roundup_core::Result<std::sync::Arc<StoredNode>> {
        if let Some(n) = self.nodes.borrow().get(class).and_then(|m| m.get(id)) {
            return Ok(n.clone());
        }
        let n = self.db.get_node(class, id)?;
        self.nodes
            .borrow_mut()
            .entry(class.to_string())
            .or_default()
            .insert(id.to_string(), n.clone());
        Ok(n)
    }

    /// Load the items a list shows in batches (one storage query per
    /// class, whatever the number of rows): the items of `class`, and the
    /// items their Link and Multilink properties among `props` point at
    /// (for their labels). Only an optimisation: a failure here is left
    /// for the item's own read to report.
    pub fn prefetch(&self, class: &str, ids: &[String], props: &[String]) {
        if ids.is_empty() || self.db.prefetch(class, ids).is_err() {
            return;
        }
        self.prefetch_targets(class, ids, props);
    }

    /// [`RenderCtx::prefetch`] for a list that shows only `props` of its
    /// items (an index page's columns and groups): the items are read with
    /// only those columns, no Multilink table, and kept for this render
    /// alone. A property the list did not name is read from whole items
    /// (all of the class's partial ones at once, see [`RenderCtx::value`]).
    /// Whole items are read instead when a shown column is a Multilink or
    /// computed, or when a check function decides who may view the class's
    /// items (it may read any property).
    pub fn prefetch_columns(&self, class: &str, ids: &[String], props: &[String]) {
        if ids.is_empty() {
            return;
        }
        let Ok(cls) = self.db.class(class) else {
            return;
        };
        let columns_only = !self.has_checked("View", class)
            && props.iter().all(|name| {
                cls.prop(name)
                    .is_none_or(|p| !p.is_multilink() && !p.is_computed())
            });
        if !columns_only {
            return self.prefetch(class, ids, props);
        }
        let names: Vec<&str> = props.iter().map(String::as_str).collect();
        let Ok(read) = self.db.read_columns(class, ids, &names) else {
            return;
        };
        if !read.is_empty() {
            self.partial
                .borrow_mut()
                .entry(class.to_string())
                .or_default()
                .extend(read);
        }
        self.prefetch_targets(class, ids, props);
    }

    /// Load, in one batch per target class, the items the Link and
    /// Multilink properties among `props` of `ids` point at.
    fn prefetch_targets(&self, class: &str, ids: &[String], props: &[String]) {
        let Ok(cls) = self.db.class(class) else {
            return;
        };
        // The Link and Multilink properties shown, with their target
        // classes; then one pass over the rows collects what they point at.
        let links: Vec<(&str, &str)> = props
            .iter()
            .filter_map(|name| {
                let p = cls.prop(name)?;
                let target = p.link_class.as_deref()?;
                (!p.is_computed()).then_some((name.as_str(), target))
            })
            .collect();
        if links.is_empty() {
            return;
        }
        let mut targets: Vec<(&str, Vec<String>)> = Vec::new();
        let mut collect = |values: &roundup_core::storage::NodeValues| {
            for &(name, target) in &links {
                let i = match targets.iter().position(|(t, _)| *t == target) {
                    Some(i) => i,
                    None => {
                        targets.push((target, Vec::new()));
                        targets.len() - 1
                    }
                };
                let linked = &mut targets[i].1;
                match values.get(name) {
                    Some(Some(Value::Link(l))) => linked.push(l.clone()),
                    Some(Some(Value::Multilink(ls))) => linked.extend(ls.iter().cloned()),
                    _ => {}
                }
            }
        };
        {
            let partial = self.partial.borrow();
            let partial = partial.get(class);
            for id in ids {
                if let Some(n) = partial.and_then(|m| m.get(id)) {
                    collect(&n.values);
                } else if let Ok(node) = self.db.get_node(class, id) {
                    collect(&node.values);
                }
            }
        }
        for (target, mut linked) in targets {
            linked.sort_unstable();
            linked.dedup();
            let _ = self.db.prefetch(target, &linked);
        }
    }

    /// The value of `prop` from an item [`RenderCtx::prefetch_columns`]
    /// read, if it read that column. When it did not, the class's partial
    /// items are all read whole, in one batch, and dropped here.
    fn partial_value(&self, class: &str, id: &str, prop: &str) -> Option<Option<Value>> {
        let mut partial = self.partial.borrow_mut();
        let items = partial.get_mut(class)?;
        let node = items.get(id)?;
        if let Some(v) = node.values.get(prop) {
            return Some(v.clone());
        }
        let ids: Vec<String> = items.keys().cloned().collect();
        partial.remove(class);
        drop(partial);
        let _ = self.db.prefetch(class, &ids);
        None
    }

    /// A property value of an item (`[]` for an empty multilink).
    pub fn value(&self, class: &str, id: &str, prop: &str) -> roundup_core::Result<Option<Value>> {
        let cls = self.db.class(class)?;
        if prop == "id" {
            return Ok(Some(Value::String(id.to_string())));
        }
        let p = cls.require_prop(prop)?;
        if cls.is_file_content(prop) || p.is_computed() {
            return self.db.get(class, id, prop);
        }
        if p.ptype != PropType::Multilink {
            if let Some(v) = self.partial_value(class, id, prop) {
                return Ok(v);
            }
        }
        let node = self.node(class, id)?;
        Ok(match node.values.get(prop).cloned().flatten() {
            None if p.ptype == PropType::Multilink => Some(Value::Multilink(Vec::new())),
            v => v,
        })
    }

    /// The label of an item: its label property's value, or the id when
    /// that is empty or the item is missing.
    pub fn label(&self, class: &str, id: &str) -> String {
        let Ok(cls) = self.db.class(class) else {
            return id.to_string();
        };
        let lp = cls.label_prop(true);
        match self.value(class, id, &lp) {
            Ok(Some(Value::String(s))) if !s.is_empty() => s,
            Ok(Some(v)) if lp != "id" => v.to_string(),
            _ => id.to_string(),
        }
    }

    /// A message in the page's language (Roundup's templating `self._`).
    pub fn tr<'s>(&'s self, msgid: &'s str) -> &'s str {
        self.req.translator.gettext(msgid)
    }

    /// A message in the page's language with its `%(name)s`/`%s` filled
    /// in (Roundup's templating `self._(msgid) % values`).
    pub fn tr_fmt(&self, msgid: &str, args: &[(&str, &str)]) -> String {
        roundup_core::i18n::tr_fmt(&self.req.translator, msgid, args)
    }

    /// Whether `name` is a class of the schema.
    pub fn is_class(&self, name: &str) -> bool {
        self.db.schema().classes.contains_key(name)
    }

    /// A fresh one-time `@csrf` token for a form (stored by the server's
    /// one-time-key store, as Roundup's `anti_csrf_nonce`).
    pub fn csrf(&self) -> String {
        self.req.anti_csrf_nonce()
    }
}

thread_local! {
    static CURRENT: Cell<*const ()> = const { Cell::new(std::ptr::null()) };
}

/// Run `f` with `ptr` in the thread-local `slot`, putting the previous
/// value back when `f` returns or unwinds (so calls nest).
pub(crate) fn scoped<R>(
    slot: &'static std::thread::LocalKey<Cell<*const ()>>,
    ptr: *const (),
    f: impl FnOnce() -> R,
) -> R {
    struct Restore(&'static std::thread::LocalKey<Cell<*const ()>>, *const ());
    impl Drop for Restore {
        fn drop(&mut self) {
            self.0.with(|c| c.set(self.1));
        }
    }
    let _restore = Restore(slot, slot.with(|c| c.replace(ptr)));
    f()
}

/// Run `f` with `ctx` reachable through [`with`] on this thread.
pub(crate) fn enter<R>(ctx: &RenderCtx<'_>, f: impl FnOnce() -> R) -> R {
    scoped(&CURRENT, (ctx as *const RenderCtx<'_>).cast::<()>(), f)
}

/// Use the render context of the page being rendered on this thread.
pub(crate) fn with<R>(
    f: impl FnOnce(&RenderCtx<'_>) -> Result<R, TplError>,
) -> Result<R, TplError> {
    let ptr = CURRENT.with(|c| c.get());
    if ptr.is_null() {
        return Err(TplError::new(
            ErrorKind::InvalidOperation,
            "tracker data is only available while a page is rendered",
        ));
    }
    // SAFETY: `ptr` was set by `enter` from a live `&RenderCtx` and is
    // reset when `enter` returns (or unwinds), so it points at a valid
    // context for as long as it is non-null. The closure is generic over
    // the context's lifetime, so it cannot keep the reference (or the
    // borrowed database) beyond this call; the 'static here is never
    // observable.
    let ctx: &RenderCtx<'static> = unsafe { &*(ptr as *const RenderCtx<'static>) };
    f(ctx)
}

/// A core error as a template error (keeps the message).
pub(crate) fn core_err(e: roundup_core::Error) -> TplError {
    TplError::new(ErrorKind::InvalidOperation, e.to_string())
}
