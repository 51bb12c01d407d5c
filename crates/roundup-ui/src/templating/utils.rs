//! `utils`, `config` and `tracker`: helpers and settings for templates.

use std::sync::Arc;

use minijinja::value::{from_args, Enumerator, Object, ObjectRepr};
use minijinja::{Error as TplError, ErrorKind, State, Value as JValue};

use super::ctx::with;
use super::extobj::{jinja_to_util, util_to_jinja, with_state_set};
use super::html;
use super::model::csrf_field;
use roundup_core::extensions::UtilValue;

/// `utils`.
#[derive(Debug)]
pub struct UtilsObj;

impl Object for UtilsObj {
    fn call_method(
        self: &Arc<Self>,
        state: &State<'_, '_>,
        method: &str,
        args: &[JValue],
    ) -> Result<JValue, TplError> {
        match method {
            "url_quote" => {
                let (s,): (JValue,) = from_args(args)?;
                Ok(JValue::from(html::url_quote(&s.to_string())))
            }
            "html_quote" => {
                let (s,): (JValue,) = from_args(args)?;
                // already-escaped output: mark safe so it is not escaped twice
                Ok(JValue::from_safe_string(html::escape(&s.to_string())))
            }
            "anti_csrf_nonce" => with(|ctx| Ok(JValue::from(ctx.csrf()))),
            // When the form was made, for the registration form's
            // `opaqueregister` field ([web] registration_delay).
            "timestamp" => Ok(JValue::from(crate::actions::pack_timestamp(
                crate::reply::now_secs() as i64,
            ))),
            "csrf_field" => with(|ctx| Ok(JValue::from_safe_string(csrf_field(ctx)))),
            // Roundup's extension hook for message display: identity here.
            "local_replace" => {
                let (s,): (JValue,) = from_args(args)?;
                Ok(s)
            }
            "hyperlink" | "linkify" => {
                let (s,): (JValue,) = from_args(args)?;
                with(|ctx| {
                    Ok(JValue::from_safe_string(html::linkify(
                        &s.to_string(),
                        &|c| ctx.is_class(c),
                    )))
                })
            }
            "designator" => {
                let (class, id): (String, JValue) = from_args(args)?;
                Ok(JValue::from(format!("{class}{id}")))
            }
            "item_link" => {
                let (class, id, label): (String, JValue, Option<String>) = from_args(args)?;
                let d = format!("{class}{id}");
                let text = label.unwrap_or_else(|| d.clone());
                Ok(JValue::from_safe_string(format!(
                    "<a href=\"{}\">{}</a>",
                    html::escape(&d),
                    html::escape(&text)
                )))
            }
            "Batch" | "batch" => {
                let (seq, size, start): (JValue, Option<usize>, Option<usize>) = from_args(args)?;
                let all: Vec<JValue> = seq.try_iter()?.collect();
                let size = size.unwrap_or(all.len()).max(1);
                let start = start.unwrap_or(0).min(all.len());
                Ok(JValue::from(
                    all.into_iter().skip(start).take(size).collect::<Vec<_>>(),
                ))
            }
            // a function of the tracker's extensions (registerUtil)
            _ => with(|ctx| match ctx.tracker.extensions().util(method) {
                Some(util) => {
                    let args: Vec<UtilValue> = args.iter().map(jinja_to_util).collect();
                    with_state_set(state, || util.call(ctx.db, &args))
                        .map(|v| util_to_jinja(&v))
                        .map_err(|e| {
                            TplError::new(
                                ErrorKind::InvalidOperation,
                                format!("utils.{method}(): {e}"),
                            )
                        })
                }
                None => Err(TplError::new(
                    ErrorKind::UnknownMethod,
                    format!("utils has no method {method}()"),
                )),
            }),
        }
    }
}

/// Option names never shown to templates (secrets).
fn secret_option(name: &str) -> bool {
    use roundup_core::config::options::{find_by_name, OptionKind};
    let n = name.to_uppercase();
    if let Some((_, def)) = find_by_name(&n) {
        return matches!(
            def.kind,
            OptionKind::SecretMandatory | OptionKind::SecretNullable | OptionKind::ListSecret
        ) || (def.kind != OptionKind::Boolean && n.contains("PASSWORD"));
    }
    n.contains("PASSWORD")
        || n.contains("SECRET")
        || n.contains("JWT")
        || n.ends_with("_KEY")
        || n == "KEY"
}

/// `config`: tracker settings by Roundup's upper-case names
/// (`config.TRACKER_NAME`, `config.TRACKER_WEB`, `config.MARKDOWN_BREAK_ON_NEWLINE`).
/// Secrets (passwords, keys) are not available.
#[derive(Debug)]
pub struct ConfigObj;

impl Object for ConfigObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        let name = key.as_str()?;
        if secret_option(name) {
            return None;
        }
        with(|ctx| {
            let cfg = ctx.tracker.config();
            Ok(match cfg.get_by_name(name) {
                Ok(v) => {
                    // booleans as real booleans so `{% if config.X %}` works
                    match v.as_str() {
                        "yes" | "true" => Some(JValue::from(true)),
                        "no" | "false" => Some(JValue::from(false)),
                        _ => Some(JValue::from(v)),
                    }
                }
                Err(_) => None,
            })
        })
        .ok()
        .flatten()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Empty
    }
}

/// `tracker`: name, web address and template of the tracker.
#[derive(Debug)]
pub struct TrackerObj;

impl Object for TrackerObj {
    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        let name = key.as_str()?;
        with(|ctx| {
            let cfg = ctx.tracker.config();
            Ok(match name {
                "name" => Some(JValue::from(cfg.tracker_name())),
                "web" => Some(JValue::from(
                    cfg.tracker_web().unwrap_or(ctx.req.base.as_str()),
                )),
                "base" => Some(JValue::from(ctx.req.base.as_str())),
                _ => None,
            })
        })
        .ok()
        .flatten()
    }
}
