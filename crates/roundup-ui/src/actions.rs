//! Roundup's default web actions (reference.txt "Default Actions"):
//! login, logout, new, edit, register, confrego, passrst, search, retire,
//! restore, export_csv and show.
//!
//! An action either ends with a redirect (carrying `@ok_message`), returns
//! its own response (CSV, the registration welcome page), or adds messages
//! and lets the page be rendered, as in Roundup.

use roundup_core::auth::{self, Frontend, LoginError};
use roundup_core::authz::{check_retirable, Subject};
use roundup_core::date::{Date, Timezone};
use roundup_core::filter::{FilterSpec, SpecValue};
use roundup_core::password::{generate_password, Password};
use roundup_core::pyrepr::PyValue;
use roundup_core::query_args::IndexArgs;
use roundup_core::schema::PropType;
use roundup_core::sessions::{record_str, Record};
use roundup_core::value::{format_number, Value};
use roundup_core::{Db, Error, Values};

use crate::client::{Client, Flow, Step};
use crate::form::{self, DefaultPermissions, EditError, EditPermissions, FormError, ItemProps};
use crate::mail;
use crate::reply::{html_escape, quote, Reply};
use crate::request::FormValue;

/// Run the named action. `Ok(None)`: render the page.
pub fn run(c: &mut Client<'_>, action: &str) -> Step<Option<Reply>> {
    // an extension's action comes first, and may replace a default one
    let extension = c.st.tracker.extensions().action(action).cloned();
    let result = match action {
        _ if extension.is_some() => extension
            .as_deref()
            .map_or(Ok(None), |a| run_extension(c, action, a)),
        "login" => login(c),
        "logout" => logout(c),
        "new" => new_item(c),
        "edit" => edit_item(c),
        "register" => register(c),
        "confrego" | "confirm_registration" => confirm_registration(c),
        "passrst" => password_reset(c),
        "search" => search(c),
        "retire" => retire_restore(c, true),
        "restore" => retire_restore(c, false),
        "export_csv" => export_csv(c),
        "show" => show(c),
        other => {
            c.err.push(format!("No such action \"{other}\""));
            Ok(None)
        }
    };
    match result {
        // value and rejection errors are shown on the page
        Err(Flow::Fatal(Error::Value(m))) | Err(Flow::Fatal(Error::Reject(m))) => {
            c.err.push(m);
            Ok(None)
        }
        Err(Flow::Fatal(
            e @ (Error::NoSuchNode { .. } | Error::NoSuchKey { .. } | Error::NoSuchProperty { .. }),
        )) => {
            c.err.push(e.to_string());
            Ok(None)
        }
        other => other,
    }
}

/// Run an extension's action (Roundup's `Action.execute()`): its database
/// changes stand when it ends normally or redirects, and are undone when
/// it refuses (`Reject`/`ValueError`, shown as error messages) or raises
/// `Unauthorised`/`NotFound`.
fn run_extension(
    c: &mut Client<'_>,
    name: &str,
    action: &dyn roundup_core::extensions::WebAction,
) -> Step<Option<Reply>> {
    use roundup_core::extensions::{ActionOutcome, ActionRequest};
    let request = ActionRequest {
        name: name.to_string(),
        method: c.inc.method.clone(),
        base: c.base.clone(),
        userid: c.userid.clone(),
        classname: c.classname.clone(),
        nodeid: c.itemid.clone(),
        template: c.template.clone(),
        form: c.form.clone(),
    };
    let result = match action.run(&c.db, &request) {
        Ok(r) => r,
        Err(e) => {
            c.db.rollback()?;
            return Err(e.into());
        }
    };
    if result.commit {
        c.db.commit()?;
    } else {
        c.db.rollback()?;
    }
    c.ok.extend(result.ok);
    c.err.extend(result.err);
    if let Some(t) = result.template {
        c.template = t;
    }
    c.extra_headers.extend(result.headers);
    match result.outcome {
        ActionOutcome::Render => Ok(None),
        ActionOutcome::Redirect(url) => Err(Flow::Redirect(url)),
        ActionOutcome::Body(text) => Ok(Some(Reply::html(200, text))),
        ActionOutcome::Unauthorised(m) => Err(Flow::Unauthorised(m)),
        ActionOutcome::NotFound(m) => Err(Flow::NotFound(m)),
    }
}

fn require_post(c: &mut Client<'_>) -> bool {
    if c.inc.method != "POST" {
        c.err.push(c.tr("Invalid request", &[]));
        return false;
    }
    true
}

/// Roundup's `permissionType` check before an action runs.
fn require_class_permission(c: &Client<'_>, perm: &str, action: &str) -> Step {
    let cn = c.classname.clone();
    if !c.has_permission(perm, cn.as_deref(), None, None)? {
        return Err(Flow::Unauthorised(c.tr(
            "You do not have permission to %(action)s the %(classname)s class.",
            &[
                ("action", action),
                ("classname", cn.as_deref().unwrap_or("")),
            ],
        )));
    }
    Ok(())
}

// ----------------------------------------------------------------------
// login and logout

/// Check a user name and password through the core's login rule (rate
/// limit, password, "Web Access"); the user id on success.
pub fn verify_login(c: &mut Client<'_>, username: &str, password: &str) -> Step<String> {
    let st = c.st;
    match auth::login(
        &c.db,
        &st.otks,
        &st.settings.login,
        Frontend::Web,
        username,
        password,
        None,
    ) {
        Ok(uid) => Ok(uid),
        Err(LoginError::TooFast(st)) => {
            // Roundup words this one with its module-level `_`
            let m = c.tr_process(
                "Logins occurring too fast. Please wait: %s seconds.",
                &[("", &st.retry_after.to_string())],
            );
            Err(Flow::RateLimited(m, LoginError::TooFast(st).headers()))
        }
        Err(LoginError::Failed(e)) => Err(Flow::Fatal(e)),
        Err(LoginError::Invalid) => Err(Flow::LoginFailed(c.tr("Invalid login", &[]))),
        Err(LoginError::NoPermission) => Err(Flow::LoginFailed(
            c.tr("You do not have permission to login", &[]),
        )),
    }
}

/// A URL the user came from, accepted only when it is below the base
/// (refused in Roundup's words: which part of it does not fit).
fn examine_url(c: &Client<'_>, url: &str) -> Result<String, String> {
    let base = &c.base;
    let base_origin = base.split('/').take(3).collect::<Vec<_>>().join("/");
    if !url.starts_with(base.as_str()) {
        if base.starts_with("https:") && url.starts_with("http:") {
            return Err(c.tr(
                "Base url %(base_url)s requires https. Redirect url %(url)s uses http.",
                &[("base_url", base), ("url", url)],
            ));
        }
        if !url.starts_with(&base_origin) {
            let netloc = base.split('/').nth(2).unwrap_or("");
            return Err(c.tr(
                "Net location in %(url)s does not match base: %(base_netloc)s",
                &[("url", url), ("base_netloc", netloc)],
            ));
        }
        let path = &base[base_origin.len()..];
        return Err(c.tr(
            "Base path %(base_path)s is not a prefix for url %(url)s",
            &[("base_path", path), ("url", url)],
        ));
    }
    let bad = |s: &str| {
        s.chars()
            .any(|ch| ch.is_whitespace() || ch == '<' || ch == '>' || ch == '"')
    };
    if bad(url) {
        let (rest, fragment) = url.split_once('#').unwrap_or((url, ""));
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let path = path.get(base_origin.len()..).unwrap_or(path);
        return Err(if bad(path) {
            c.tr(
                "Path component (%(url_path)s) in %(url)s is not properly escaped",
                &[("url_path", path), ("url", url)],
            )
        } else if bad(query) {
            c.tr(
                "Query component (%(url_query)s) in %(url)s is not properly escaped",
                &[("url_query", query), ("url", url)],
            )
        } else {
            c.tr(
                "Fragment component (%(url_fragment)s) in %(url)s is not properly escaped",
                &[("url_fragment", fragment), ("url", url)],
            )
        });
    }
    Ok(url.to_string())
}

/// `url` with its query rebuilt: messages and a logout action dropped,
/// `extra` added, parameters sorted (as Roundup's login redirect).
fn rebuild_query(url: &str, extra: &[(&str, &str)]) -> String {
    let (rest, fragment) = match url.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (url, None),
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .filter(|(k, v)| {
            k != "@error_message" && k != "@ok_message" && !(k == "@action" && v == "logout")
        })
        .collect();
    for (k, v) in extra {
        params.push((k.to_string(), v.to_string()));
    }
    params.sort();
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &params {
        ser.append_pair(k, v);
    }
    let q = ser.finish();
    let mut out = path.to_string();
    if !q.is_empty() {
        out.push('?');
        out.push_str(&q);
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

fn login(c: &mut Client<'_>) -> Step<Option<Reply>> {
    if !require_post(c) {
        return Ok(None);
    }
    let Some(name) = c.form_text("__login_name").map(str::to_string) else {
        c.err.push(c.tr("Username required", &[]));
        return Ok(None);
    };
    let password = c.form_text("__login_password").unwrap_or("").to_string();
    let came_from = match c.form_text("__came_from").map(str::to_string) {
        Some(u) => match examine_url(c, &u) {
            Ok(u) => Some(u),
            Err(m) => {
                c.err.push(m);
                return Ok(None);
            }
        },
        None => None,
    };
    match verify_login(c, &name, &password) {
        Ok(uid) => {
            c.become_user(&uid, &name);
            let remember = c.has_form("remember");
            c.start_session(&name, remember)?;
            if let Some(url) = came_from {
                let welcome = c.tr_process("Welcome %(username)s!", &[("username", &name)]);
                return Err(Flow::Redirect(rebuild_query(
                    &url,
                    &[("@ok_message", &welcome)],
                )));
            }
            Ok(None)
        }
        Err(Flow::LoginFailed(m)) => {
            c.make_anonymous()?;
            if let Some(url) = came_from {
                return Err(Flow::Redirect(rebuild_query(
                    &url,
                    &[("@error_message", &m)],
                )));
            }
            c.err.push(m);
            Ok(None)
        }
        Err(Flow::RateLimited(m, headers)) => {
            c.make_anonymous()?;
            if let Some(url) = came_from {
                c.extra_headers.extend(headers);
                return Err(Flow::Redirect(rebuild_query(
                    &url,
                    &[("@error_message", &m)],
                )));
            }
            Err(Flow::RateLimited(m, headers))
        }
        Err(other) => Err(other),
    }
}

fn logout(c: &mut Client<'_>) -> Step<Option<Reply>> {
    c.make_anonymous()?;
    c.destroy_session()?;
    c.classname = None;
    c.itemid = None;
    c.template = String::new();
    Err(Flow::Redirect(c.base.clone()))
}

// ----------------------------------------------------------------------
// new and edit

/// How an action words a refused form, as Roundup's do: the new-item
/// and registration actions say `Error: %s` (through the request's
/// translator when the form does not parse, through Roundup's
/// module-level `_` when the items cannot be written), the edit action
/// says `Edit Error: %s` when the items cannot be written and gives the
/// parser's message as it is.
#[derive(Clone, Copy)]
enum Wording {
    Plain,
    Error,
    ProcessError,
    EditError,
}

fn worded(c: &Client<'_>, how: Wording, m: &str) -> String {
    match how {
        Wording::Plain => m.to_string(),
        Wording::Error => c.tr("Error: %s", &[("", m)]),
        Wording::ProcessError => c.tr_process("Error: %s", &[("", m)]),
        Wording::EditError => c.tr("Edit Error: %s", &[("", m)]),
    }
}

fn edit_error(c: &mut Client<'_>, how: Wording, e: EditError) -> Step<Option<Reply>> {
    match e {
        EditError::Unauthorised { action, class } => {
            c.db.rollback()?;
            let msgid = if action == "create" {
                "You do not have permission to create %(class)s"
            } else {
                "You do not have permission to edit %(class)s"
            };
            Err(Flow::Unauthorised(c.tr(msgid, &[("class", &class)])))
        }
        EditError::Failed(m) => {
            c.db.rollback()?;
            c.form_wins = true;
            c.err.push(worded(c, how, &m));
            Ok(None)
        }
        EditError::Core(err) => {
            c.db.rollback()?;
            match err {
                Error::Unauthorised(m) => Err(Flow::Unauthorised(m)),
                Error::Storage(_) | Error::Io { .. } | Error::Config(_) => Err(Flow::Fatal(err)),
                other => {
                    c.form_wins = true;
                    c.err.push(worded(c, how, &other.to_string()));
                    Ok(None)
                }
            }
        }
    }
}

fn form_error(c: &mut Client<'_>, how: Wording, e: FormError) -> Step<Option<Reply>> {
    c.form_wins = true;
    match e {
        FormError::Form(m) => c.err.push(worded(c, how, &m)),
        FormError::Core(Error::Unauthorised(m)) => return Err(Flow::Unauthorised(m)),
        FormError::Core(e @ (Error::Storage(_) | Error::Io { .. })) => return Err(Flow::Fatal(e)),
        FormError::Core(other) => c.err.push(worded(c, how, &other.to_string())),
    }
    Ok(None)
}

fn new_item(c: &mut Client<'_>) -> Step<Option<Reply>> {
    if !require_post(c) {
        return Ok(None);
    }
    let Some(cn) = c.classname.clone() else {
        c.err.push("Error: no class to create an item of".into());
        return Ok(None);
    };
    let parsed = match form::parse_form(
        &c.db,
        &c.translator,
        &c.form,
        &cn,
        c.itemid.as_deref(),
        true,
    ) {
        Ok(p) => p,
        Err(e) => return form_error(c, Wording::Error, e),
    };
    let outcome = match form::apply_form(&c.db, &c.translator, parsed, &DefaultPermissions) {
        Ok(o) => o,
        Err(e) => return edit_error(c, Wording::ProcessError, e),
    };
    c.db.commit()?;
    let message = outcome.messages.join("\n");
    if let Some(target) = c.form_text("__redirect_to").map(str::to_string) {
        return match examine_url(c, &target) {
            Ok(u) => Err(Flow::Redirect(format!(
                "{u}&@ok_message={}",
                quote(&message)
            ))),
            Err(m) => {
                c.err.push(m);
                Ok(None)
            }
        };
    }
    let id = outcome
        .created_context
        .or_else(|| c.itemid.clone())
        .unwrap_or_default();
    let template = c.template.clone();
    Err(Flow::Redirect(c.url_with(
        &format!("{cn}{id}"),
        &[("@ok_message", &message), ("@template", &template)],
    )))
}

/// Seconds-resolution activity of an item.
fn activity_secs(db: &Db, cn: &str, id: &str) -> Step<Option<i64>> {
    Ok(match db.get(cn, id, "activity")? {
        Some(Value::Date(d)) => Some(d.timestamp().floor() as i64),
        _ => None,
    })
}

fn edit_item(c: &mut Client<'_>) -> Step<Option<Reply>> {
    if !require_post(c) {
        return Ok(None);
    }
    let Some(cn) = c.classname.clone() else {
        c.err.push("Edit Error: no item to edit".into());
        return Ok(None);
    };
    // someone else changed the item since the form was shown?
    if let (Some(id), Some(last)) = (
        c.itemid.clone(),
        c.form_text("@lastactivity").map(str::to_string),
    ) {
        let user_seen = Date::parse(last.trim(), &Timezone::Utc)
            .map_err(|e| Flow::BadRequest(format!("@lastactivity {last:?} is not a date: {e}")))?;
        let seen = user_seen.timestamp().floor() as i64;
        if let Some(node) = activity_secs(&c.db, &cn, &id)? {
            if seen < node {
                let props =
                    match form::parse_form(&c.db, &c.translator, &c.form, &cn, Some(&id), false) {
                        Ok(p) => p
                            .items
                            .get(&(cn.clone(), Some(id.clone())))
                            .map(|ip| ip.values.keys().cloned().collect::<Vec<_>>())
                            .unwrap_or_default(),
                        Err(_) => Vec::new(),
                    };
                if !props.is_empty() {
                    c.form_wins = true;
                    c.err.push(format!(
                        "Edit Error: someone else has edited this {cn} ({}). View their changes at {}{cn}{id} in a new window.",
                        props.join(", "),
                        c.base
                    ));
                    c.template = "collision|item".to_string();
                    if !c.st.templates.has(Some(&cn), "collision") {
                        c.template = "item".into();
                    }
                    return Ok(None);
                }
            }
        }
    }
    let parsed = match form::parse_form(
        &c.db,
        &c.translator,
        &c.form,
        &cn,
        c.itemid.as_deref(),
        false,
    ) {
        Ok(p) => p,
        Err(e) => return form_error(c, Wording::Plain, e),
    };
    let outcome = match form::apply_form(&c.db, &c.translator, parsed, &DefaultPermissions) {
        Ok(o) => o,
        Err(e) => return edit_error(c, Wording::EditError, e),
    };
    c.db.commit()?;
    let message = outcome.messages.join("\n");
    let template = c.template.clone();
    let id = c.itemid.clone().unwrap_or_default();
    Err(Flow::Redirect(c.url_with(
        &format!("{cn}{id}"),
        &[("@ok_message", &message), ("@template", &template)],
    )))
}

// ----------------------------------------------------------------------
// registration and password reset

/// Roundup's `opaqueregister` field: a base64 4-byte little-endian Unix
/// time written when the form was rendered.
pub fn unpack_timestamp(s: &str) -> Option<i64> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .ok()?;
    let arr: [u8; 4] = bytes.try_into().ok()?;
    Some(i32::from_le_bytes(arr) as i64)
}

/// The value templates put in `opaqueregister` (Roundup's `utils.timestamp()`).
pub fn pack_timestamp(t: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode((t as i32).to_le_bytes())
}

struct RegisterPermissions;

impl EditPermissions for RegisterPermissions {
    fn may_edit(&self, db: &Db, class: &str, id: &str, props: &ItemProps) -> Result<bool, Error> {
        DefaultPermissions.may_edit(db, class, id, props)
    }
    fn may_create(&self, db: &Db, class: &str, _props: &ItemProps) -> Result<bool, Error> {
        db.has_permission("Register", Some(class), None, None)
    }
}

fn register(c: &mut Client<'_>) -> Step<Option<Reply>> {
    if !require_post(c) {
        return Ok(None);
    }
    require_class_permission(c, "Register", "register")?;
    let delay = c.st.settings.registration_delay;
    if delay > 0 {
        // Roundup's Timestamped.timecheck, worded with its module-level
        // `_` (its FormError reaches the page without a prefix)
        let Some(stamp) = c.form_text("opaqueregister").map(str::to_string) else {
            c.err
                .push(c.tr_process("Form is corrupted, missing: %s.", &[("", "opaqueregister")]));
            return Ok(None);
        };
        let Some(created) = unpack_timestamp(&stamp) else {
            c.err.push(c.tr_process("Form is corrupted.", &[]));
            return Ok(None);
        };
        if (files_now() as i64) - created < delay as i64 {
            c.err
                .push(c.tr_process("Responding to form too quickly.", &[]));
            return Ok(None);
        }
    }
    let parsed = match form::parse_form(&c.db, &c.translator, &c.form, "user", None, true) {
        Ok(p) => p,
        Err(e) => return form_error(c, Wording::Error, e),
    };
    let user_key = ("user".to_string(), None);
    let Some(user_props) = parsed.items.get(&user_key).cloned() else {
        c.err.push("Error: no user details given".into());
        return Ok(None);
    };
    if user_props.values.contains_key("roles") {
        return Err(Flow::Unauthorised(
            c.tr("It is not permitted to supply roles at registration.", &[]),
        ));
    }
    let settings = c.st.settings.clone();
    if settings.instant_registration {
        let outcome = match form::apply_form(&c.db, &c.translator, parsed, &RegisterPermissions) {
            Ok(o) => o,
            Err(e) => return edit_error(c, Wording::ProcessError, e),
        };
        let Some(uid) = outcome.created_context else {
            c.err.push("Error: no user was created".into());
            return Ok(None);
        };
        let mut v = Values::new();
        v.insert(
            "roles".into(),
            Some(Value::String(settings.new_web_user_roles.clone())),
        );
        c.db.set("user", &uid, v)?;
        c.db.commit()?;
        return finish_registration(c, &uid).map(Some);
    }
    let username = match user_props.values.get("username") {
        Some(Some(Value::String(u))) => u.clone(),
        _ => {
            c.err
                .push("Error: Required user property username not supplied".into());
            return Ok(None);
        }
    };
    if settings.registration_prevalidate_username && c.db.lookup("user", &username).is_ok() {
        let m = c.tr_process("Username '%s' is already used.", &[("", &username)]);
        c.err.push(m);
        return Ok(None);
    }
    let address = match user_props.values.get("address") {
        Some(Some(Value::String(a))) => a.clone(),
        _ => {
            c.err
                .push("Error: Required user property address not supplied".into());
            return Ok(None);
        }
    };
    // keep the details, as text, until the address is confirmed
    let mut rec = Record::new();
    for (k, v) in &user_props.values {
        if let Some(v) = v {
            rec.insert(k.clone(), PyValue::Str(value_text(v)));
        }
    }
    let otk = {
        let mut otks = c.st.otks()?;
        let key = otks.unique_key(32)?;
        otks.set(&key, rec, None)?;
        otks.commit()?;
        key
    };
    // Roundup words the registration mail with its module-level `_`
    let tracker_name = settings.tracker_name.clone();
    let values = [
        ("tracker_name", tracker_name.as_str()),
        ("key", otk.as_str()),
        ("name", username.as_str()),
        ("tracker", tracker_name.as_str()),
        ("url", c.base.as_str()),
        ("otk", otk.as_str()),
        ("tracker_email", settings.tracker_email.as_str()),
    ];
    let (subject, body) = if settings.email_registration_confirmation {
        (
            c.tr_process(
                "Complete your registration to %(tracker_name)s -- key %(key)s",
                &values,
            ),
            c.tr_process(
                "To complete your registration of the user \"%(name)s\" with\n%(tracker)s, please do one of the following:\n\n- send a reply to %(tracker_email)s and maintain the subject line as is (the\nreply's additional \"Re:\" is ok),\n\n- or visit the following URL:\n\n%(url)s?@action=confrego&otk=%(otk)s\n\n",
                &values,
            ),
        )
    } else {
        (
            c.tr_process(
                "Complete your registration to %s",
                &[("", tracker_name.as_str())],
            ),
            c.tr_process(
                "To complete your registration of the user \"%(name)s\" with\n%(tracker)s, please visit the following URL:\n\n%(url)s?@action=confrego&otk=%(otk)s\n\n",
                &values,
            ),
        )
    };
    if let Err(m) = mail::send(c.st.tracker.mail(), &[address.as_str()], &subject, &body) {
        let mut otks = c.st.otks()?;
        otks.destroy(&otk)?;
        otks.commit()?;
        c.err.push(m);
        return Ok(None);
    }
    Err(Flow::Redirect(format!(
        "{}user?@template=rego_progress",
        c.base
    )))
}

fn files_now() -> u64 {
    crate::reply::now_secs()
}

/// Log the new user in and send them to their page (Roundup answers with
/// a small page that forwards after a second).
fn finish_registration(c: &mut Client<'_>, uid: &str) -> Step<Reply> {
    let name = match c.db.get("user", uid, "username")? {
        Some(Value::String(n)) => n,
        _ => {
            return Err(Flow::Fatal(Error::value(format!(
                "user {uid} has no username"
            ))))
        }
    };
    c.become_user(uid, &name);
    c.start_session(&name, false)?;
    let message = c.tr("You are now registered, welcome!", &[]);
    let url = c.url_with(&format!("user{uid}"), &[("@ok_message", &message)]);
    let u = html_escape(&url);
    let body = format!(
        "<html><head><title>{message}</title></head>\n<body><p><a href=\"{u}\">{message}</a></p>\n<script nonce=\"{}\" type=\"text/javascript\">\nwindow.setTimeout('window.location = \"{u}\"', 1000);\n</script></body></html>\n",
        c.nonce
    );
    Ok(Reply::html(200, body))
}

fn confirm_registration(c: &mut Client<'_>) -> Step<Option<Reply>> {
    let Some(otk) = c.form_text("otk").map(str::to_string) else {
        c.err.push("No registration key (otk) given".into());
        return Ok(None);
    };
    let username = {
        let mut otks = c.st.otks()?;
        otks.get(&otk, "username")?
            .and_then(|v| match v {
                PyValue::Str(s) => Some(s),
                _ => None,
            })
            .unwrap_or_default()
    };
    let roles = c.st.settings.new_web_user_roles.clone();
    let confirmed = {
        let mut otks = c.st.otks()?;
        roundup_core::auth::confirm_registration(&c.db, otks.as_mut(), &otk, &roles)
    };
    let uid = match confirmed {
        Ok(roundup_core::auth::Confirmed::User(uid)) => uid,
        Ok(roundup_core::auth::Confirmed::NoSuchKey) => {
            c.err.push(format!("No such otk \"{otk}\""));
            return Ok(None);
        }
        Err(e) => {
            let msg = e.to_string();
            c.err
                .push(if msg.contains("exists") && !username.is_empty() {
                    format!("Username '{username}' already exists.")
                } else {
                    msg
                });
            return Ok(None);
        }
    };
    finish_registration(c, &uid).map(Some)
}

fn password_reset(c: &mut Client<'_>) -> Step<Option<Reply>> {
    let settings = c.st.settings.clone();
    if let Some(otk) = c.form_text("otk").map(str::to_string) {
        let rec = c.st.otks()?.get_all(&otk)?;
        let Some(uid) = rec
            .as_ref()
            .and_then(|r| record_str(r, "uid"))
            .map(str::to_string)
        else {
            c.err.push(c.tr(
                "Invalid One Time Key!\n(a Mozilla bug may cause this message to show up erroneously, please check your email)",
                &[],
            ));
            return Ok(None);
        };
        let newpw = generate_password(12);
        let opts = c.db.options().clone();
        let mut v = Values::new();
        v.insert(
            "password".into(),
            Some(Value::Password(Password::hash(
                &newpw,
                opts.password_scheme,
                opts.password_rounds,
            ))),
        );
        if let Err(e) = c.db.set("user", &uid, v) {
            c.db.rollback()?;
            c.err.push(e.to_string());
            return Ok(None);
        }
        let name = match c.db.get("user", &uid, "username")? {
            Some(Value::String(n)) => n,
            _ => String::new(),
        };
        let address = match rec.as_ref().and_then(|r| record_str(r, "uaddress")) {
            Some(a) => a.to_string(),
            None => match c.db.get("user", &uid, "address")? {
                Some(Value::String(a)) => a,
                _ => String::new(),
            },
        };
        let subject = c.tr("Password reset for %s", &[("", &settings.tracker_name)]);
        let body = c.tr(
            "\nThe password has been reset for username \"%(name)s\".\n\nYour password is now: %(password)s\n",
            &[("name", &name), ("password", &newpw)],
        );
        if let Err(m) = mail::send(c.st.tracker.mail(), &[address.as_str()], &subject, &body) {
            c.db.rollback()?;
            c.err.push(m);
            return Ok(None);
        }
        c.db.commit()?;
        {
            let mut otks = c.st.otks()?;
            otks.destroy(&otk)?;
            otks.commit()?;
        }
        c.ok.push(c.tr("Password reset and email sent to %s", &[("", &address)]));
        return Ok(None);
    }

    let (uid, name, address) = if let Some(name) = c.form_text("username").map(str::to_string) {
        let Ok(uid) = c.db.lookup("user", &name) else {
            c.err.push(c.tr("Unknown username", &[]));
            return Ok(None);
        };
        let address = match c.db.get("user", &uid, "address")? {
            Some(Value::String(a)) => a,
            _ => String::new(),
        };
        (uid, name, address)
    } else if let Some(address) = c.form_text("address").map(str::to_string) {
        let found = c.db.stringfind("user", &[("address", address.as_str())])?;
        let Some(uid) = found.into_iter().next() else {
            c.err.push(c.tr("Unknown email address", &[]));
            return Ok(None);
        };
        let name = match c.db.get("user", &uid, "username")? {
            Some(Value::String(n)) => n,
            _ => String::new(),
        };
        (uid, name, address)
    } else {
        c.err
            .push(c.tr("You need to specify a username or address", &[]));
        return Ok(None);
    };
    let otk = {
        let mut otks = c.st.otks()?;
        let key = otks.unique_key(32)?;
        let mut rec = Record::new();
        rec.insert("uid".into(), PyValue::Str(uid.clone()));
        rec.insert("uaddress".into(), PyValue::Str(address.clone()));
        otks.set(&key, rec, None)?;
        otks.commit()?;
        key
    };
    let subject = c.tr(
        "Confirm reset of password for %s",
        &[("", &settings.tracker_name)],
    );
    let body = c.tr(
        "\nSomeone, perhaps you, has requested that the password be changed for your\nusername, \"%(name)s\". If you wish to proceed with the change, please follow\nthe link below:\n\n  %(url)suser?@template=forgotten&@action=passrst&otk=%(otk)s\n\nYou should then receive another email with the new password.\n",
        &[("name", &name), ("url", &c.base), ("otk", &otk)],
    );
    if let Err(m) = mail::send(c.st.tracker.mail(), &[address.as_str()], &subject, &body) {
        c.err.push(m);
        return Ok(None);
    }
    if c.has_form("username") {
        c.ok.push(c.tr(
            "Email sent to primary notification address for %s.",
            &[("", &name)],
        ));
    } else {
        c.ok.push(c.tr("Email sent to %s.", &[("", &address)]));
    }
    Ok(None)
}

// ----------------------------------------------------------------------
// search, retire, restore, show

/// Variables that describe an index view (what a saved query keeps).
fn index_url(c: &Client<'_>) -> String {
    let skip = [
        "@action",
        "@csrf",
        "@queryname",
        "@old-queryname",
        "@ok_message",
        "@error_message",
        "@dispname",
    ];
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &c.form {
        if skip.contains(&k.as_str()) || k.starts_with("__") {
            continue;
        }
        if let FormValue::Text(t) = v {
            if k == "@template" && (t == "index" || t == "index|search") {
                continue;
            }
            ser.append_pair(k, t);
        }
    }
    ser.finish()
}

fn search(c: &mut Client<'_>) -> Step<Option<Reply>> {
    require_class_permission(c, "View", "search")?;
    let Some(cn) = c.classname.clone() else {
        return Ok(None);
    };
    // add @filter for each property with a search value
    let mut extra = Vec::new();
    {
        let cls = c.db.class(&cn)?;
        let mut seen: Vec<&str> = Vec::new();
        for (k, v) in &c.form {
            let FormValue::Text(t) = v else { continue };
            if t.trim().is_empty() || seen.contains(&k.as_str()) {
                continue;
            }
            let first = k.split('.').next().unwrap_or("");
            let Some(prop) = cls
                .prop(first)
                .or_else(|| (first == "id").then_some(&*ID_PROP))
            else {
                continue;
            };
            if k == first {
                match prop.ptype {
                    // Roundup: `_("Invalid number: ") + value`, its
                    // module-level `_`
                    PropType::Number if t.trim().parse::<f64>().is_err() => {
                        let m = c.tr_process("Invalid number: ", &[]) + t;
                        c.err.push(m);
                        return Ok(None);
                    }
                    PropType::Integer if t.trim().parse::<i64>().is_err() => {
                        let m = c.tr_process("Invalid integer: ", &[]) + t;
                        c.err.push(m);
                        return Ok(None);
                    }
                    _ => {}
                }
            }
            seen.push(k.as_str());
            extra.push(("@filter".to_string(), FormValue::Text(k.clone())));
        }
    }
    c.form.extend(extra);
    let queryname = c
        .form_text("@queryname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    if queryname.is_empty() {
        return Ok(None);
    }
    let old = c
        .form_text("@old-queryname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let url = index_url(c);
    if c.db.class("query").is_err() {
        c.err
            .push("This tracker cannot store queries (it has no query class)".into());
        return Ok(None);
    }
    let uid = c.userid.clone();
    let has_key = c.db.class("query")?.key.is_some();
    let text = |s: &str| Some(Value::String(s.to_string()));
    let qid;
    if has_key {
        match c.db.lookup("query", &old) {
            Ok(id) => {
                if !c.has_permission("Edit", Some("query"), None, Some(&id))? {
                    return Err(Flow::Unauthorised(
                        c.tr("You do not have permission to edit queries", &[]),
                    ));
                }
                let mut v = Values::new();
                v.insert("klass".into(), text(&cn));
                v.insert("url".into(), text(&url));
                c.db.set("query", &id, v)?;
                qid = id;
            }
            Err(_) => {
                if !c.has_permission("Create", Some("query"), None, None)? {
                    return Err(Flow::Unauthorised(
                        c.tr("You do not have permission to store queries", &[]),
                    ));
                }
                let mut v = Values::new();
                v.insert("name".into(), text(&queryname));
                v.insert("klass".into(), text(&cn));
                v.insert("url".into(), text(&url));
                qid = c.db.create("query", v)?;
            }
        }
    } else {
        let named = |db: &Db, name: &str, prop: &str| -> Result<Vec<String>, Error> {
            let spec = FilterSpec {
                filterspec: vec![(prop.to_string(), SpecValue::One(uid.clone()))],
                ..FilterSpec::default()
            };
            let mut out = Vec::new();
            for id in db.filter("query", &spec)? {
                if matches!(db.get("query", &id, "name")?, Some(Value::String(n)) if n == name) {
                    out.push(id);
                }
            }
            Ok(out)
        };
        if old != queryname && !named(&c.db, &queryname, "creator")?.is_empty() {
            // both worded with Roundup's module-level `_`
            let m = c.tr_process(
                "You already own a query named '%s'. Please choose another name.",
                &[("", &queryname)],
            );
            c.err.push(m);
            let renamed = queryname.clone() + &c.tr_process(" - duplicate", &[]);
            for (k, v) in c.form.iter_mut() {
                if k == "@queryname" {
                    *v = FormValue::Text(renamed.clone());
                }
            }
            return Ok(None);
        }
        let mut existing = named(&c.db, &old, "private_for")?;
        if existing.is_empty() {
            existing = named(&c.db, &old, "creator")?;
        }
        match existing.first().filter(|_| !old.is_empty()) {
            Some(id) => {
                let id = id.clone();
                if !c.has_permission("Edit", Some("query"), None, Some(&id))? {
                    return Err(Flow::Unauthorised(
                        c.tr("You do not have permission to edit queries", &[]),
                    ));
                }
                let mut v = Values::new();
                v.insert("klass".into(), text(&cn));
                v.insert("url".into(), text(&url));
                v.insert("name".into(), text(&queryname));
                c.db.set("query", &id, v)?;
                qid = id;
            }
            None => {
                if !c.has_permission("Create", Some("query"), None, None)? {
                    return Err(Flow::Unauthorised(
                        c.tr("You do not have permission to store queries", &[]),
                    ));
                }
                let mut v = Values::new();
                v.insert("name".into(), text(&queryname));
                v.insert("klass".into(), text(&cn));
                v.insert("url".into(), text(&url));
                v.insert("private_for".into(), Some(Value::Link(uid.clone())));
                qid = c.db.create("query", v)?;
            }
        }
    }
    // and remember it in the user's queries
    if c.db.class("user")?.prop("queries").is_some() {
        let mut queries = match c.db.get("user", &uid, "queries")? {
            Some(Value::Multilink(v)) => v,
            _ => Vec::new(),
        };
        if !queries.contains(&qid) {
            queries.push(qid);
            let mut v = Values::new();
            v.insert("queries".into(), Some(Value::Multilink(queries)));
            c.db.set("user", &uid, v)?;
        }
    }
    c.db.commit()?;
    c.form
        .push(("@dispname".into(), FormValue::Text(queryname)));
    Ok(None)
}

static ID_PROP: std::sync::LazyLock<roundup_core::Property> =
    std::sync::LazyLock::new(|| roundup_core::Property::new(PropType::String));

fn retire_restore(c: &mut Client<'_>, retire: bool) -> Step<Option<Reply>> {
    let verb = if retire { "retire" } else { "restore" };
    require_class_permission(c, "Edit", verb)?;
    if !require_post(c) {
        return Ok(None);
    }
    let (Some(cn), Some(id)) = (c.classname.clone(), c.itemid.clone()) else {
        c.err.push(format!("Invalid request: no item to {verb}"));
        return Ok(None);
    };
    if c.template == "index" {
        c.itemid = None;
    }
    if retire {
        if let Err(e) = check_retirable(&c.db, &cn, &id) {
            // the core's refusal is Roundup's message id
            let m = match e {
                Error::Value(m) => c.translator.gettext(&m).to_string(),
                other => other.to_string(),
            };
            c.err.push(m);
            return Ok(None);
        }
    }
    let who = Subject::user(&c.db, &c.userid)?;
    let allowed = if retire {
        who.may_retire(&c.db, &cn, &id)?
    } else {
        who.may_restore(&c.db, &cn, &id)?
    };
    if !allowed {
        let msgid = if retire {
            "You do not have permission to retire %(class)s"
        } else {
            "You do not have permission to restore %(class)s"
        };
        return Err(Flow::Unauthorised(c.tr(msgid, &[("class", &cn)])));
    }
    if retire {
        c.db.retire(&cn, &id)?;
    } else {
        c.db.restore(&cn, &id)?;
    }
    c.db.commit()?;
    // Python's str.capitalize()
    let mut chars = cn.chars();
    let title: String = chars
        .next()
        .map(|f| {
            f.to_uppercase()
                .chain(chars.flat_map(char::to_lowercase))
                .collect()
        })
        .unwrap_or_default();
    let msgid = if retire {
        "%(classname)s %(itemid)s has been retired"
    } else {
        "%(classname)s %(itemid)s has been restored"
    };
    let m = c.tr(msgid, &[("classname", &title), ("itemid", &id)]);
    c.ok.push(m);
    Ok(None)
}

fn show(c: &mut Client<'_>) -> Step<Option<Reply>> {
    let t = c
        .form
        .iter()
        .find(|(k, _)| k == "@type")
        .and_then(|(_, v)| match v {
            FormValue::Text(t) => Some(t.trim().to_string()),
            _ => None,
        })
        .unwrap_or_default();
    let n = c
        .form
        .iter()
        .find(|(k, _)| k == "@number")
        .and_then(|(_, v)| match v {
            FormValue::Text(t) => Some(t.trim().to_string()),
            _ => None,
        })
        .unwrap_or_default();
    if t.is_empty() {
        c.err.push(c.tr("No type specified", &[]));
        return Ok(None);
    }
    if n.is_empty() {
        c.err.push(c.tr("No ID entered", &[]));
        return Ok(None);
    }
    if n.parse::<u64>().is_err() {
        let m = c.tr(
            "\"%(input)s\" is not an ID (%(classname)s ID required)",
            &[("input", &n), ("classname", &t)],
        );
        c.err.push(m);
        return Ok(None);
    }
    if c.db.class(&t).is_err() {
        c.err.push(format!("No such class \"{t}\""));
        return Ok(None);
    }
    Err(Flow::Redirect(format!("{}{t}{n}", c.base)))
}

// ----------------------------------------------------------------------
// CSV export

/// A stored value as plain text (Python `str()` of the value).
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) | Value::Link(s) => s.clone(),
        Value::Password(p) => p.as_str().to_string(),
        Value::Date(d) => d.to_string(),
        Value::Interval(i) => i.to_string(),
        Value::Multilink(ids) => format!(
            "[{}]",
            ids.iter()
                .map(|i| format!("'{i}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Boolean(b) => if *b { "True" } else { "False" }.to_string(),
        Value::Number(n) => format_number(*n),
        Value::Integer(i) => i.to_string(),
    }
}

fn csv_field(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn export_csv(c: &mut Client<'_>) -> Step<Option<Reply>> {
    require_class_permission(c, "View", "export")?;
    let Some(cn) = c.classname.clone() else {
        c.err.push("No class to export".into());
        return Ok(None);
    };
    let cls = c.db.class(&cn)?.clone();
    // the index page's own arguments, read by the same parser, so that
    // the export lists what the page lists
    let who = Subject::user(&c.db, &c.userid)?;
    let args = c.web_request();
    let ix = IndexArgs::parse(&c.db, &who, Some(&cn), &args);
    let mut columns = ix.columns.clone();
    if columns.is_empty() {
        columns = vec!["id".to_string()];
    }
    for col in &columns {
        if col != "id" && cls.prop(col).is_none() {
            return Err(Flow::Reply(Reply::html(
                400,
                crate::reply::error_page(
                    "Bad request",
                    &c.tr(
                        "Column \"%(column)s\" not found in %(class)s",
                        &[("column", col), ("class", &cn)],
                    ),
                ),
            )));
        }
    }
    let spec = ix.query(&c.db, &cn)?;
    let ids = match c.db.filter(&cn, &spec) {
        Ok(ids) => ids,
        Err(e) => {
            c.err.push(e.to_string());
            return Ok(None);
        }
    };
    let tz = c.db.user_timezone()?;
    let mut out = String::new();
    out.push_str(
        &columns
            .iter()
            .map(|c| csv_field(c))
            .collect::<Vec<_>>()
            .join(","),
    );
    out.push_str("\r\n");
    for id in ids {
        if !c.has_permission("View", Some(&cn), None, Some(&id))? {
            continue;
        }
        let mut row = Vec::new();
        for col in &columns {
            if !c.has_permission("View", Some(&cn), Some(col), Some(&id))? {
                row.push(csv_field("[hidden]"));
                continue;
            }
            let value = if col == "id" {
                Some(Value::String(id.clone()))
            } else {
                c.db.get(&cn, &id, col)?
            };
            let prop = cls.prop(col);
            let text = match (value, prop) {
                (None, _) => String::new(),
                (Some(Value::Link(target)), Some(p)) => {
                    link_label(c, p.link_class.as_deref(), &[target])?
                }
                (Some(Value::Multilink(targets)), Some(p)) => {
                    link_label(c, p.link_class.as_deref(), &targets)?
                }
                (Some(Value::Date(d)), _) => {
                    let fmt = if d.pretty(&tz, Some("%H:%M")) == "00:00" {
                        "%Y-%m-%d"
                    } else {
                        "%Y-%m-%d %H:%M"
                    };
                    d.pretty(&tz, Some(fmt))
                }
                (Some(v), _) => value_text(&v),
            };
            row.push(csv_field(&text));
        }
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    let mut reply = Reply::new(200);
    reply.set("Content-Type", "text/csv; charset=utf-8");
    reply.set("Content-Disposition", "inline; filename=query.csv");
    reply.body = out.into_bytes();
    Ok(Some(reply))
}

/// Names of linked items for CSV: `name`, or `realname` for users, else
/// ids; several sorted and joined with `;`; `[hidden]` without View.
fn link_label(c: &Client<'_>, target: Option<&str>, ids: &[String]) -> Step<String> {
    let Some(tc) = target else {
        return Ok(ids.join(";"));
    };
    if !c.has_permission("View", Some(tc), None, None)? {
        return Ok("[hidden]".into());
    }
    let tcls = c.db.class(tc)?;
    let label = if tcls.prop("name").is_some() {
        Some("name")
    } else if tc == "user" {
        Some("realname")
    } else {
        None
    };
    let mut names = Vec::new();
    for id in ids {
        let n = match label {
            Some(p) => match c.db.get(tc, id, p)? {
                Some(v) => value_text(&v),
                None => "None".into(),
            },
            None => id.clone(),
        };
        names.push(n);
    }
    names.sort();
    Ok(names.join(";"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        let t = 1_700_000_000;
        assert_eq!(unpack_timestamp(&pack_timestamp(t)), Some(t));
        assert_eq!(unpack_timestamp("!!"), None);
    }

    #[test]
    fn login_redirect_query() {
        assert_eq!(
            rebuild_query(
                "http://h/t/issue?@action=logout&b=2&@ok_message=x#f",
                &[("@ok_message", "Welcome a!")]
            ),
            "http://h/t/issue?%40ok_message=Welcome+a%21&b=2#f"
        );
    }

    #[test]
    fn csv_quoting() {
        assert_eq!(csv_field("a\"b"), "\"a\"\"b\"");
    }
}
