//! Roundup's form protocol for creating and editing items (reference.txt
//! "Form values"): which form variables name which properties of which
//! items, and how the items are then created, edited and linked.
//!
//! Variable names: `<prop>` (the context item), `<designator>@<prop>`
//! (another item; `<class>-<n>` designators name new items), `@required`,
//! `@add@<prop>` / `@remove@<prop>` (multilink edits), `@confirm@<prop>`
//! (password confirmation), `@link@<prop>` (link to other items of the
//! form), and the shorthands `@note` (a new message linked to the context
//! item's `messages`) and `@file` (uploads linked to its `files`).
//! `:` is accepted in place of `@` everywhere.

use indexmap::IndexMap;
use roundup_core::authz::Subject;
use roundup_core::date::Date;
use roundup_core::designator;
use roundup_core::i18n::Translator;
use roundup_core::schema::PropType;
use roundup_core::value::Value;
use roundup_core::{ClassKind, Db, Error, Values};

use crate::client::{tr_fmt, tr_nfmt};
use crate::request::FormValue;

/// An item named by a form: class and id (`None` for the context item
/// when it is being created, `-n` for other new items).
pub type ItemKey = (String, Option<String>);

/// What the form sets on one item.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ItemProps {
    pub values: Values,
    /// Binary content of an uploaded file (FileClass `content`).
    pub content: Option<Vec<u8>>,
}

impl ItemProps {
    fn has(&self, prop: &str) -> bool {
        self.values.contains_key(prop) || (prop == "content" && self.content.is_some())
    }
    fn is_empty(&self) -> bool {
        self.values.is_empty() && self.content.is_none()
    }
}

/// One `@link@` request: link the items in `targets` to `prop` of `item`.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkSpec {
    pub item: ItemKey,
    pub prop: String,
    pub targets: Vec<ItemKey>,
}

/// The parsed form.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParsedForm {
    pub items: IndexMap<ItemKey, ItemProps>,
    pub links: Vec<LinkSpec>,
}

/// A problem with the submitted form (shown to the user).
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    #[error("{0}")]
    Form(String),
    #[error(transparent)]
    Core(#[from] Error),
}

#[derive(Debug, PartialEq)]
enum Special {
    Note,
    File,
    Required,
    Prop { action: MlAction, propname: String },
}

#[derive(Debug, PartialEq, Clone, Copy)]
enum MlAction {
    Set,
    Add,
    Remove,
    Confirm,
    Link,
}

#[derive(Debug, PartialEq)]
struct Label {
    designator: Option<(String, String)>,
    special: Special,
}

fn is_sep(c: char) -> bool {
    c == '@' || c == ':'
}

/// The part after an optional designator.
fn parse_suffix(s: &str) -> Option<Special> {
    let mut chars = s.chars();
    let first = chars.next()?;
    if is_sep(first) {
        let rest = &s[1..];
        if rest == "required" {
            return Some(Special::Required);
        }
        for (word, action) in [
            ("add", MlAction::Add),
            ("remove", MlAction::Remove),
            ("confirm", MlAction::Confirm),
            ("link", MlAction::Link),
        ] {
            if let Some(after) = rest.strip_prefix(word) {
                if let Some(c) = after.chars().next() {
                    if is_sep(c) {
                        let prop = &after[1..];
                        if !prop.is_empty() && !prop.contains(is_sep) {
                            return Some(Special::Prop {
                                action,
                                propname: prop.to_string(),
                            });
                        }
                    }
                }
            }
        }
        if !rest.is_empty() && !rest.contains(is_sep) {
            return Some(Special::Prop {
                action: MlAction::Set,
                propname: rest.to_string(),
            });
        }
        None
    } else if !s.contains(is_sep) {
        Some(Special::Prop {
            action: MlAction::Set,
            propname: s.to_string(),
        })
    } else {
        None
    }
}

/// Split `issue-1@title` into designator and label, knowing the classes.
fn parse_label(key: &str, classes: &[&str]) -> Option<Label> {
    if key == "@note" || key == ":note" {
        return Some(Label {
            designator: None,
            special: Special::Note,
        });
    }
    if key == "@file" || key == ":file" {
        return Some(Label {
            designator: None,
            special: Special::File,
        });
    }
    if let Some((cn, id, rest)) = designator::split_form_prefix(key, classes) {
        if let Some(special) = parse_suffix(rest) {
            return Some(Label {
                designator: Some((cn.to_string(), id.to_string())),
                special,
            });
        }
    }
    parse_suffix(key).map(|special| Label {
        designator: None,
        special,
    })
}

/// Split a designator such as `msg-1` or `issue23`.
fn parse_designator(s: &str, classes: &[&str]) -> Option<(String, String)> {
    designator::split_form(s, classes).map(|(c, i)| (c.to_string(), i.to_string()))
}

fn text_values<'a>(vals: &[&'a FormValue]) -> Vec<&'a str> {
    vals.iter()
        .filter_map(|v| match v {
            FormValue::Text(t) => Some(t.as_str()),
            FormValue::File { .. } => None,
        })
        .collect()
}

/// Comma-separated entries of all values, trimmed, empties dropped.
fn form_list(vals: &[&FormValue]) -> Vec<String> {
    text_values(vals)
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn is_new(id: &Option<String>) -> bool {
    id.as_deref().is_none_or(|i| i.starts_with('-'))
}

fn sort_ids(v: &mut [String]) {
    v.sort_by_key(|s| s.parse::<u64>().unwrap_or(u64::MAX));
}

/// The guessed mime type of an uploaded file name.
pub use roundup_core::db::guess_type;

/// Parse the form for the context `classname`/`nodeid` (Roundup's
/// `parsePropsFromForm`). `create` allows properties of the context item
/// when it does not exist yet. The parser's own messages are worded by
/// `tr`, as Roundup's `FormParser` words them with the request's
/// translator (the core's value errors stay as the core gives them).
pub fn parse_form(
    db: &Db,
    tr: &Translator,
    form: &[(String, FormValue)],
    classname: &str,
    nodeid: Option<&str>,
    create: bool,
) -> Result<ParsedForm, FormError> {
    let schema = db.schema();
    let mut class_names: Vec<&str> = schema.classes.keys().map(String::as_str).collect();
    // longest first so `issue` does not shadow `issuetype`-like names
    class_names.sort_by_key(|c| std::cmp::Reverse(c.len()));
    db.class(classname)?;
    let default_key: ItemKey = (classname.to_string(), nodeid.map(str::to_string));

    // unique names in order of first appearance, with all their values
    let mut grouped: IndexMap<&str, Vec<&FormValue>> = IndexMap::new();
    for (k, v) in form {
        grouped.entry(k.as_str()).or_default().push(v);
    }
    let labels: Vec<(&str, Label)> = grouped
        .keys()
        .filter_map(|k| parse_label(k, &class_names).map(|l| (*k, l)))
        .collect();

    let mut out = ParsedForm::default();
    out.items.insert(default_key.clone(), ItemProps::default());
    let mut required: IndexMap<ItemKey, Vec<String>> = IndexMap::new();
    let mut got: IndexMap<ItemKey, Vec<String>> = IndexMap::new();
    let mut have_note = false;
    let mut have_files: Vec<String> = Vec::new();

    for (key, label) in &labels {
        let vals = &grouped[key];
        let (cn, id, propname, action) = match &label.special {
            Special::Note => {
                out.links.push(LinkSpec {
                    item: default_key.clone(),
                    prop: "messages".into(),
                    targets: vec![("msg".into(), Some("-1".into()))],
                });
                have_note = true;
                (
                    "msg".to_string(),
                    Some("-1".to_string()),
                    "content".to_string(),
                    MlAction::Set,
                )
            }
            Special::File => (
                classname.to_string(),
                default_key.1.clone(),
                "files".to_string(),
                MlAction::Set,
            ),
            Special::Required => {
                let this: ItemKey = match &label.designator {
                    Some((c, i)) => (c.clone(), Some(i.clone())),
                    None => default_key.clone(),
                };
                for entry in form_list(vals) {
                    match parse_label(&entry, &class_names) {
                        Some(Label {
                            designator,
                            special: Special::Prop { propname, .. },
                        }) => {
                            let target = match designator {
                                Some((c, i)) => (c, Some(i)),
                                None => this.clone(),
                            };
                            required.entry(target).or_default().push(propname);
                        }
                        _ => {
                            return Err(FormError::Form(tr_fmt(
                                tr,
                                "The form action claims to require property \"%(property)s\" which doesn't exist",
                                &[("property", &entry)],
                            )))
                        }
                    }
                }
                continue;
            }
            Special::Prop { action, propname } => match &label.designator {
                Some((c, i)) => (c.clone(), Some(i.clone()), propname.clone(), *action),
                None => (
                    classname.to_string(),
                    default_key.1.clone(),
                    propname.clone(),
                    *action,
                ),
            },
        };
        let this: ItemKey = (cn.clone(), id.clone());
        if !create && id.is_none() {
            continue;
        }
        let cls = db.class(&cn)?;
        out.items.entry(this.clone()).or_default();
        got.entry(this.clone()).or_default();

        if action == MlAction::Link {
            let mut targets = Vec::new();
            for entry in form_list(vals) {
                let Some((lcn, lid)) = parse_designator(&entry, &class_names) else {
                    return Err(FormError::Form(tr_fmt(
                        tr,
                        "link \"%(key)s\" value \"%(entry)s\" not a designator",
                        &[("key", key), ("entry", &entry)],
                    )));
                };
                let tk: ItemKey = (lcn, Some(lid));
                out.items.entry(tk.clone()).or_default();
                targets.push(tk);
            }
            match cls.prop(&propname) {
                Some(p) if p.is_pointer() => {}
                _ => {
                    return Err(FormError::Form(tr_fmt(
                        tr,
                        "%(class)s %(property)s is not a link or multilink property",
                        &[("class", &cn), ("property", &propname)],
                    )))
                }
            }
            out.links.push(LinkSpec {
                item: this,
                prop: propname,
                targets,
            });
            continue;
        }

        let Some(prop) = cls.prop(&propname).cloned() else {
            if matches!(action, MlAction::Add | MlAction::Remove) {
                let what = if action == MlAction::Add {
                    "add"
                } else {
                    "remove"
                };
                return Err(FormError::Form(tr_fmt(
                    tr,
                    "You have submitted a %(action)s action for the property \"%(property)s\" which doesn't exist",
                    &[("action", what), ("property", &propname)],
                )));
            }
            continue;
        };

        // ---- @file: uploads become new file items linked to `files`
        if matches!(label.special, Special::File) {
            if prop.ptype != PropType::Multilink {
                return Err(FormError::Form(format!(
                    "{cn} has no multilink property \"files\""
                )));
            }
            let file_cls = db.class("file")?;
            for (n, v) in vals.iter().enumerate() {
                let FormValue::File {
                    filename,
                    content_type,
                    content,
                } = v
                else {
                    if matches!(v, FormValue::Text(t) if t.is_empty()) {
                        continue;
                    }
                    return Err(FormError::Form(tr_fmt(tr, "Not a file attachment", &[])));
                };
                if filename.is_empty() {
                    continue;
                }
                let fid = format!("-{}", n + 1);
                have_files.push(fid.clone());
                let fkey: ItemKey = ("file".into(), Some(fid.clone()));
                let fprops = out.items.entry(fkey.clone()).or_default();
                file_props(file_cls, fprops, filename, content_type, content.clone());
                out.links.push(LinkSpec {
                    item: this.clone(),
                    prop: "files".into(),
                    targets: vec![fkey],
                });
            }
            continue;
        }

        let texts = text_values(vals);
        let file_upload = vals.iter().find_map(|v| match v {
            FormValue::File {
                filename,
                content_type,
                content,
            } if !filename.is_empty() => Some((filename, content_type, content)),
            _ => None,
        });

        // ---- convert the value
        let value: Option<Value>;
        if prop.ptype == PropType::Multilink {
            let entries = form_list(vals);
            let joined = entries.join(",");
            let ids = match db
                .raw_to_value(&cn, &propname, &joined, None)
                .map_err(FormError::Core)?
            {
                Some(Value::Multilink(v)) => v,
                _ => Vec::new(),
            };
            value = Some(Value::Multilink(match action {
                MlAction::Set | MlAction::Confirm | MlAction::Link => ids,
                MlAction::Add | MlAction::Remove => {
                    let props = &out.items[&this];
                    let mut existing: Vec<String> = match props.values.get(&propname) {
                        Some(Some(Value::Multilink(v))) => v.clone(),
                        _ if !is_new(&id) => {
                            match db.get(&cn, id.as_deref().unwrap_or(""), &propname)? {
                                Some(Value::Multilink(v)) => v,
                                _ => Vec::new(),
                            }
                        }
                        _ => Vec::new(),
                    };
                    if action == MlAction::Remove {
                        for entry in &ids {
                            match existing.iter().position(|e| e == entry) {
                                Some(i) => {
                                    existing.remove(i);
                                }
                                None => {
                                    return Err(FormError::Form(tr_fmt(
                                        tr,
                                        "property \"%(propname)s\": \"%(value)s\" not currently in list",
                                        &[("propname", &propname), ("value", entry)],
                                    )))
                                }
                            }
                        }
                    } else {
                        for entry in ids {
                            if !existing.contains(&entry) {
                                existing.push(entry);
                            }
                        }
                    }
                    sort_ids(&mut existing);
                    existing
                }
            }));
        } else {
            if texts.len() > 1 {
                return Err(FormError::Form(tr_fmt(
                    tr,
                    "You have submitted more than one value for the %s property",
                    &[("", &propname)],
                )));
            }
            if prop.ptype == PropType::Password {
                if action == MlAction::Confirm {
                    continue;
                }
                let given = texts.first().map(|s| s.trim()).unwrap_or("");
                if given.is_empty() {
                    continue;
                }
                let confirm = labels.iter().find_map(|(k, l)| match &l.special {
                    Special::Prop {
                        action: MlAction::Confirm,
                        propname: p,
                    } if *p == propname && l.designator == label.designator => Some(&grouped[k]),
                    _ => None,
                });
                let Some(confirm) = confirm else {
                    return Err(FormError::Form(tr_fmt(
                        tr,
                        "Password and confirmation text do not match",
                        &[],
                    )));
                };
                let confirm = text_values(confirm);
                if confirm.len() > 1 {
                    return Err(FormError::Form(tr_fmt(
                        tr,
                        "You have submitted more than one value for the %s property",
                        &[("", &propname)],
                    )));
                }
                if confirm.first().map(|s| s.trim()) != Some(given) {
                    return Err(FormError::Form(tr_fmt(
                        tr,
                        "Password and confirmation text do not match",
                        &[],
                    )));
                }
                value = db.raw_to_value(&cn, &propname, given, None)?;
            } else if let (Some((filename, ctype, content)), PropType::String) =
                (file_upload, prop.ptype)
            {
                // a String property given a file: its content (and the
                // file's name and type when the class has them)
                let props = out.items.entry(this.clone()).or_default();
                let fdef = db.class(&cn)?;
                if fdef.prop("name").is_some() {
                    props.values.insert(
                        "name".into(),
                        Some(Value::String(
                            filename.rsplit('\\').next().unwrap_or(filename).to_string(),
                        )),
                    );
                }
                if fdef.prop("type").is_some() {
                    let t = if ctype.is_empty() {
                        guess_type(filename)
                    } else {
                        ctype.clone()
                    };
                    props.values.insert("type".into(), Some(Value::String(t)));
                }
                match String::from_utf8(content.clone()) {
                    Ok(text) => value = Some(Value::String(text)),
                    Err(e) => {
                        props.content = Some(e.into_bytes());
                        got.entry(this.clone()).or_default().push(propname.clone());
                        continue;
                    }
                }
            } else {
                let raw = texts.first().map(|s| s.trim()).unwrap_or("");
                // "-1" is the "- no selection -" choice of a Link's menu:
                // leave it unset (new items) or clear it (existing ones)
                if raw.is_empty() || (prop.ptype == PropType::Link && raw == "-1") {
                    value = None;
                } else {
                    value = db.raw_to_value(
                        &cn,
                        &propname,
                        raw,
                        id.as_deref().filter(|i| !i.starts_with('-')),
                    )?;
                }
            }
        }

        if matches!(label.special, Special::Note) {
            if let Some(Value::String(s)) = &value {
                if !s.is_empty() {
                    let props = out.items.entry(this.clone()).or_default();
                    props
                        .values
                        .insert("author".into(), Some(Value::Link(db.getuid())));
                    props
                        .values
                        .insert("date".into(), Some(Value::Date(Date::now())));
                }
            }
        }

        let non_empty = match &value {
            Some(Value::Multilink(v)) => !v.is_empty(),
            Some(Value::String(s)) => !s.is_empty(),
            Some(_) => true,
            None => false,
        };
        if non_empty {
            got.entry(this.clone()).or_default().push(propname.clone());
        }

        let props = out.items.entry(this.clone()).or_default();
        if let Some(existing_id) = id.as_deref().filter(|i| !i.starts_with('-')) {
            let mut current = db.get(&cn, existing_id, &propname)?;
            if let Some(Value::Multilink(v)) = &mut current {
                sort_ids(v);
            }
            let mut newv = value.clone();
            if let Some(Value::Multilink(v)) = &mut newv {
                sort_ids(v);
            }
            let same = match (&current, &newv) {
                (None, Some(Value::Multilink(v))) => v.is_empty(),
                (Some(Value::String(s)), None) => s.is_empty(),
                (a, b) => a == b,
            };
            if !same {
                props.values.insert(propname.clone(), newv);
            }
        } else {
            if !non_empty {
                continue;
            }
            props.values.insert(propname.clone(), value);
        }
    }

    if have_note {
        for fid in &have_files {
            out.links.push(LinkSpec {
                item: ("msg".into(), Some("-1".into())),
                prop: "files".into(),
                targets: vec![("file".into(), Some(fid.clone()))],
            });
        }
    }

    // required properties
    let mut missing = Vec::new();
    for (thing, req) in &required {
        let gotten = got.get(thing).cloned().unwrap_or_default();
        let mut still: Vec<String> = req
            .iter()
            .filter(|e| !gotten.contains(e))
            .cloned()
            .collect();
        if !create {
            if let Some(existing_id) = thing.1.as_deref().filter(|i| !i.starts_with('-')) {
                // a required property the user may not edit is fine when
                // it already has a value
                let mut keep = Vec::new();
                for entry in still {
                    let may_edit = db.has_permission("Edit", Some(&thing.0), Some(&entry), None)?;
                    if !may_edit
                        && db
                            .get(&thing.0, existing_id, &entry)
                            .ok()
                            .flatten()
                            .is_some()
                    {
                        continue;
                    }
                    keep.push(entry);
                }
                still = keep;
            }
        }
        if !still.is_empty() {
            // the class and property names in the request's language too
            let names: Vec<&str> = still.iter().map(|p| tr.gettext(p)).collect();
            missing.push(tr_nfmt(
                tr,
                "Required %(class)s property %(property)s not supplied",
                "Required %(class)s properties %(property)s not supplied",
                still.len() as u64,
                &[
                    ("class", tr.gettext(&thing.0)),
                    ("property", &names.join(", ")),
                ],
            ));
        }
    }
    if !missing.is_empty() {
        return Err(FormError::Form(missing.join("\n")));
    }

    // drop new items nothing was given for; file items need content
    let keys: Vec<ItemKey> = out.items.keys().cloned().collect();
    for k in keys {
        let is_file = db
            .class(&k.0)
            .map(|c| c.kind == ClassKind::File)
            .unwrap_or(false);
        let new_item = k.1.as_deref().is_some_and(|i| i.starts_with('-'));
        let Some(props) = out.items.get_mut(&k) else {
            continue;
        };
        if new_item && props.is_empty() {
            out.items.shift_remove(&k);
        } else if is_file {
            if props.has("content") {
                let empty_text = matches!(props.values.get("content"), Some(Some(Value::String(s))) if s.is_empty())
                    || matches!(props.values.get("content"), Some(None));
                if !new_item && k.1.is_some() && empty_text && props.content.is_none() {
                    props.values.shift_remove("content");
                }
            } else if new_item {
                out.items.shift_remove(&k);
            }
        }
    }
    Ok(out)
}

fn file_props(
    file_cls: &roundup_core::ClassDef,
    fprops: &mut ItemProps,
    filename: &str,
    content_type: &str,
    content: Vec<u8>,
) {
    let name = filename.rsplit('\\').next().unwrap_or(filename).to_string();
    if file_cls.prop("name").is_some() {
        fprops
            .values
            .insert("name".into(), Some(Value::String(name.clone())));
    }
    if file_cls.prop("type").is_some() {
        let t = if content_type.is_empty() {
            guess_type(&name)
        } else {
            content_type.to_string()
        };
        fprops.values.insert("type".into(), Some(Value::String(t)));
    }
    match String::from_utf8(content) {
        Ok(text) => {
            fprops
                .values
                .insert("content".into(), Some(Value::String(text)));
        }
        Err(e) => fprops.content = Some(e.into_bytes()),
    }
}

/// Who may do what: the permission checks the edit and create steps make.
pub trait EditPermissions {
    /// May the user edit these properties of the existing item?
    fn may_edit(&self, db: &Db, class: &str, id: &str, props: &ItemProps) -> Result<bool, Error>;
    /// May the user create an item of the class with these properties?
    fn may_create(&self, db: &Db, class: &str, props: &ItemProps) -> Result<bool, Error>;
}

/// Roundup's default checks, made by the core's authorisation rules for
/// the user the connection acts for: Edit per property of the item;
/// Create on the class and on each property given.
pub struct DefaultPermissions;

impl EditPermissions for DefaultPermissions {
    fn may_edit(&self, db: &Db, class: &str, id: &str, props: &ItemProps) -> Result<bool, Error> {
        let mut names: Vec<&str> = props.values.keys().map(String::as_str).collect();
        if props.content.is_some() {
            names.push("content");
        }
        Subject::user(db, &db.getuid())?.may_edit(db, class, id, names)
    }
    fn may_create(&self, db: &Db, class: &str, props: &ItemProps) -> Result<bool, Error> {
        Subject::user(db, &db.getuid())?.may_create(
            db,
            class,
            props.values.keys().map(String::as_str),
        )
    }
}

/// What applying a form did.
#[derive(Debug, Default)]
pub struct EditOutcome {
    /// Message lines ("issue 3 created", "issue 3 title edited ok").
    pub messages: Vec<String>,
    /// The id of the context item when it was created.
    pub created_context: Option<String>,
}

/// Why applying a form failed.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("You do not have permission to {action} {class}")]
    Unauthorised { action: &'static str, class: String },
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Core(#[from] Error),
}

/// Create and change the items of a parsed form, then link them (Roundup's
/// `_editnodes`): items that others link to are written first so their
/// new ids can be filled in. The messages saying what was done are worded
/// by `tr` (the names of the changed properties too, as Roundup's).
pub fn apply_form(
    db: &Db,
    tr: &Translator,
    mut parsed: ParsedForm,
    perms: &dyn EditPermissions,
) -> Result<EditOutcome, EditError> {
    let mut deps: IndexMap<ItemKey, Vec<ItemKey>> = IndexMap::new();
    let mut links: IndexMap<ItemKey, Vec<(ItemKey, String)>> = IndexMap::new();
    for l in &parsed.links {
        let numeric = l
            .item
            .1
            .as_deref()
            .and_then(|i| i.parse::<i64>().ok())
            .unwrap_or(0);
        if !(numeric > 0 || parsed.items.contains_key(&l.item)) {
            continue;
        }
        for t in &l.targets {
            if !parsed.items.contains_key(t) {
                continue;
            }
            deps.entry(l.item.clone()).or_default().push(t.clone());
            links
                .entry(t.clone())
                .or_default()
                .push((l.item.clone(), l.prop.clone()));
        }
    }
    let mut order: Vec<ItemKey> = Vec::new();
    while order.len() < parsed.items.len() {
        let mut progressed = false;
        for k in parsed.items.keys() {
            if order.contains(k) {
                continue;
            }
            let ready = deps
                .get(k)
                .is_none_or(|ts| ts.iter().all(|t| order.contains(t)));
            if ready {
                order.push(k.clone());
                progressed = true;
            }
        }
        if !progressed {
            return Err(EditError::Failed("linking must not loop!".into()));
        }
    }

    let mut outcome = EditOutcome::default();
    let mut new_ids: IndexMap<ItemKey, String> = IndexMap::new();
    for key in order {
        let (cn, id) = key.clone();
        let props = parsed.items.get(&key).cloned().unwrap_or_default();
        let mut final_id = id.clone();
        if !props.is_empty() {
            match id.as_deref().filter(|i| !i.starts_with('-')) {
                Some(existing) => {
                    if !perms.may_edit(db, &cn, existing, &props)? {
                        return Err(EditError::Unauthorised {
                            action: "edit",
                            class: cn,
                        });
                    }
                    let mut values = props.values.clone();
                    if let Some(bytes) = &props.content {
                        values.insert(
                            "content".into(),
                            Some(Value::String(String::from_utf8_lossy(bytes).into_owned())),
                        );
                    }
                    let changed = db.set(&cn, existing, values)?;
                    if !changed.is_empty() {
                        let names: Vec<&str> = changed.keys().map(|p| tr.gettext(p)).collect();
                        outcome.messages.push(tr_fmt(
                            tr,
                            "%(class)s %(id)s %(properties)s edited ok",
                            &[
                                ("class", &cn),
                                ("id", existing),
                                ("properties", &names.join(", ")),
                            ],
                        ));
                    }
                }
                None => {
                    if !perms.may_create(db, &cn, &props)? {
                        return Err(EditError::Unauthorised {
                            action: "create",
                            class: cn,
                        });
                    }
                    let newid = match &props.content {
                        Some(bytes) => {
                            db.create_with_content(&cn, props.values.clone(), bytes.clone())?
                        }
                        None => db.create(&cn, props.values.clone())?,
                    };
                    if id.is_none() {
                        outcome.created_context = Some(newid.clone());
                    }
                    outcome.messages.push(tr_fmt(
                        tr,
                        "%(class)s %(id)s created",
                        &[("class", &cn), ("id", &newid)],
                    ));
                    new_ids.insert(key.clone(), newid.clone());
                    final_id = Some(newid);
                }
            }
        }
        let Some(nodeid) = final_id.filter(|i| !i.starts_with('-')) else {
            continue;
        };
        if let Some(targets) = links.get(&key) {
            for (link_item, link_prop) in targets {
                let is_multi = db
                    .class(&link_item.0)?
                    .prop(link_prop)
                    .is_some_and(|p| p.ptype == PropType::Multilink);
                let existing_id = link_item.1.clone().filter(|i| !i.starts_with('-'));
                let entry = parsed.items.entry(link_item.clone()).or_default();
                match entry.values.get_mut(link_prop) {
                    None => {
                        let v = if is_multi {
                            let mut cur = match &existing_id {
                                Some(eid) => match db.get(&link_item.0, eid, link_prop)? {
                                    Some(Value::Multilink(v)) => v,
                                    _ => Vec::new(),
                                },
                                None => Vec::new(),
                            };
                            cur.push(nodeid.clone());
                            Value::Multilink(cur)
                        } else {
                            Value::Link(nodeid.clone())
                        };
                        entry.values.insert(link_prop.clone(), Some(v));
                    }
                    Some(Some(Value::Multilink(v))) => v.push(nodeid.clone()),
                    Some(slot) => {
                        if is_multi {
                            *slot = Some(Value::Multilink(vec![nodeid.clone()]));
                        }
                    }
                }
            }
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLASSES: &[&str] = &["issue", "msg", "file", "user"];

    #[test]
    fn labels() {
        let l = parse_label("title", CLASSES).unwrap();
        assert_eq!(l.designator, None);
        assert!(
            matches!(l.special, Special::Prop { action: MlAction::Set, ref propname } if propname == "title")
        );
        let l = parse_label("issue-1@title", CLASSES).unwrap();
        assert_eq!(l.designator, Some(("issue".into(), "-1".into())));
        let l = parse_label("msg-2:content", CLASSES).unwrap();
        assert_eq!(l.designator, Some(("msg".into(), "-2".into())));
        let l = parse_label("@add@nosy", CLASSES).unwrap();
        assert!(matches!(
            l.special,
            Special::Prop {
                action: MlAction::Add,
                ..
            }
        ));
        let l = parse_label(":remove:nosy", CLASSES).unwrap();
        assert!(matches!(
            l.special,
            Special::Prop {
                action: MlAction::Remove,
                ..
            }
        ));
        assert_eq!(
            parse_label("@required", CLASSES).unwrap().special,
            Special::Required
        );
        assert_eq!(
            parse_label("@note", CLASSES).unwrap().special,
            Special::Note
        );
        assert_eq!(
            parse_label("@file", CLASSES).unwrap().special,
            Special::File
        );
        let l = parse_label("issue3@link@messages", CLASSES).unwrap();
        assert_eq!(l.designator, Some(("issue".into(), "3".into())));
        assert!(matches!(
            l.special,
            Special::Prop {
                action: MlAction::Link,
                ..
            }
        ));
        assert!(parse_label("a@b@c@d", CLASSES).is_none());
        assert_eq!(
            parse_designator("msg-1", CLASSES),
            Some(("msg".into(), "-1".into()))
        );
        assert_eq!(parse_designator("issue", CLASSES), None);
    }
}
