//! STAND-IN for the page templates (the real module comes from the
//! web-templating branch and replaces this file at merge). It has the
//! agreed signatures and renders a plain page listing what it was given,
//! so the server can be exercised before the real templates land.

use roundup_core::{Db, Error};
use roundup_tracker::Tracker;

use crate::request::WebRequest;

/// What to render: the context class and item, and the template name
/// (`home`, `index`, `item`, `search`, `404`, ...).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct View {
    pub classname: Option<String>,
    pub itemid: Option<String>,
    pub template: String,
}

/// Messages shown at the top of a page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PageMessages {
    pub ok: Vec<String>,
    pub error: Vec<String>,
}

/// The compiled template set of one tracker.
#[derive(Debug)]
pub struct Templates {
    html_dir: std::path::PathBuf,
}

const KNOWN: &[&str] = &[
    "home",
    "index",
    "item",
    "search",
    "register",
    "forgotten",
    "rego_progress",
    "404",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Templates {
    pub fn load(tracker: &Tracker) -> Result<Templates, Error> {
        Ok(Templates {
            html_dir: tracker.config().templates_dir(),
        })
    }

    pub fn has(&self, classname: Option<&str>, template: &str) -> bool {
        if KNOWN.contains(&template) {
            return true;
        }
        let name = match classname {
            Some(c) => format!("{c}.{template}.html"),
            None => format!("{template}.html"),
        };
        self.html_dir.join(name).is_file()
            || self
                .html_dir
                .join(format!("_generic.{template}.html"))
                .is_file()
    }

    pub fn render(
        &self,
        db: &Db,
        tracker: &Tracker,
        req: &WebRequest,
        view: &View,
        messages: &PageMessages,
    ) -> Result<String, Error> {
        let mut out = String::new();
        out.push_str("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">");
        out.push_str(&format!(
            "<title>{} - {}</title></head><body>\n",
            esc(tracker.config().tracker_name()),
            esc(&view.template)
        ));
        for m in &messages.ok {
            out.push_str(&format!("<p class=\"ok-message\">{}</p>\n", esc(m)));
        }
        for m in &messages.error {
            out.push_str(&format!("<p class=\"error-message\">{}</p>\n", esc(m)));
        }
        out.push_str(&format!(
            "<p id=\"context\">class={} item={} template={} user={}</p>\n",
            esc(view.classname.as_deref().unwrap_or("")),
            esc(view.itemid.as_deref().unwrap_or("")),
            esc(&view.template),
            esc(&req.username),
        ));
        if let (Some(c), Some(id)) = (&view.classname, &view.itemid) {
            if let Ok(node) = db.get_node(c, id) {
                out.push_str(&format!(
                    "<pre id=\"item\">{}</pre>\n",
                    esc(&format!("{:?}", node))
                ));
            }
        }
        out.push_str(&format!(
            "<form method=\"POST\"><input type=\"hidden\" name=\"@csrf\" value=\"{}\"></form>\n",
            esc(&req.anti_csrf_nonce())
        ));
        out.push_str("</body></html>\n");
        Ok(out)
    }
}
