//! Small HTML building blocks: escaping, URL quoting, attribute lists,
//! turning URLs and item designators in plain text into links, and
//! sanitised markdown.

use std::fmt::Write as _;
use std::sync::OnceLock;

use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};
use regex::Regex;

/// Escape text for HTML element content and (double-quoted) attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    escape_into(&mut out, text);
    out
}

/// Append `text` to `out`, HTML-escaped.
pub fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
}

/// Percent-encode every byte but unreserved characters (RFC 3986) and
/// those in `keep`.
fn quote_keeping(text: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || keep.contains(&b)
        {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Percent-encode everything but unreserved characters (RFC 3986), as
/// for a query-string value or a path segment.
pub fn url_quote(text: &str) -> String {
    quote_keeping(text, b"")
}

/// Like [`url_quote`] but keeps `@`, `,`, `:` and `/` readable, as they
/// are common in Roundup's index arguments (`@sort=-activity`).
pub fn url_quote_arg(text: &str) -> String {
    quote_keeping(text, b"@,:/")
}

/// An HTML start tag being built: `Tag::new("input").attr("name", "x")`.
/// An attribute set again (a template's `id=` after the default one)
/// replaces the earlier value in its place, so no attribute appears twice.
pub struct TagBuilder {
    name: String,
    attrs: Vec<(String, Option<String>)>,
}

impl TagBuilder {
    pub fn new(name: &str) -> TagBuilder {
        TagBuilder {
            name: name.to_string(),
            attrs: Vec::new(),
        }
    }

    fn set(mut self, name: &str, value: Option<String>) -> TagBuilder {
        match self.attrs.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.attrs.push((name.to_string(), value)),
        }
        self
    }

    /// Add `name="value"` (escaped).
    pub fn attr(self, name: &str, value: &str) -> TagBuilder {
        self.set(name, Some(value.to_string()))
    }

    /// Add a valueless attribute such as `selected` when `on`.
    pub fn flag(self, name: &str, on: bool) -> TagBuilder {
        if on {
            self.set(name, None)
        } else {
            self
        }
    }

    /// Add `name="name"` when `on` (Roundup's form of `selected`).
    pub fn flag_valued(self, name: &str, on: bool) -> TagBuilder {
        if on {
            self.attr(name, name)
        } else {
            self
        }
    }

    /// Add attributes a template passed (names checked; values escaped;
    /// `None`: valueless).
    pub fn extra(mut self, attrs: &[(String, Option<String>)]) -> TagBuilder {
        for (k, v) in attrs {
            if !valid_attr_name(k) {
                continue;
            }
            self = self.set(k, v.clone());
        }
        self
    }

    /// The finished start tag.
    pub fn open(self) -> String {
        let mut buf = format!("<{}", self.name);
        for (k, v) in &self.attrs {
            buf.push(' ');
            buf.push_str(k);
            if let Some(v) = v {
                buf.push_str("=\"");
                escape_into(&mut buf, v);
                buf.push('"');
            }
        }
        buf.push('>');
        buf
    }
}

/// Attribute names a template may add: letters, digits, `-`, `_`, `:`.
pub fn valid_attr_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':'))
}

/// Whether a link target is harmless in an `href`: relative, or one of
/// the http, https, mailto and ftp schemes.
pub fn safe_url(url: &str) -> bool {
    let u = url.trim();
    let scheme_end = u.find(':');
    let first_sep = u.find(['/', '?', '#']);
    match (scheme_end, first_sep) {
        (None, _) => true,
        (Some(c), Some(s)) if s < c => true,
        (Some(c), _) => {
            let scheme = u[..c].to_ascii_lowercase();
            matches!(scheme.as_str(), "http" | "https" | "mailto" | "ftp")
        }
    }
}

fn link_re() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| {
        // URLs, e-mail addresses, and designators (class name + id).
        Regex::new(
            r#"(?x)
            (?P<url>(?:https?|ftp)://[^\s<>"']+ | www\.[A-Za-z0-9-]+\.[^\s<>"']+)
          | (?P<email>[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)
          | \b(?P<designator>(?P<class>[A-Za-z_][A-Za-z_]*?)(?P<id>[0-9]+))\b
            "#,
        )
        .ok()
    })
    .as_ref()
}

/// Escape `text` and turn URLs, e-mail addresses and designators of
/// classes for which `is_class` answers true into links. Designators link
/// relative to the tracker base (`issue42`).
pub fn linkify(text: &str, is_class: &dyn Fn(&str) -> bool) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut last = 0;
    let Some(re) = link_re() else {
        return escape(text);
    };
    for caps in re.captures_iter(text) {
        let Some(whole) = caps.get(0) else { continue };
        let (start, mut end) = (whole.start(), whole.end());
        let replacement = if let Some(url) = caps.name("url") {
            // Trailing punctuation usually ends the sentence, not the URL.
            let mut u = url.as_str();
            while let Some(c) = u.chars().last() {
                if matches!(c, '.' | ',' | ';' | ':' | '!' | '?' | ')' | ']') {
                    u = &u[..u.len() - c.len_utf8()];
                } else {
                    break;
                }
            }
            end = start + u.len();
            let href = if u.starts_with("www.") {
                format!("http://{u}")
            } else {
                u.to_string()
            };
            Some(format!(
                "<a href=\"{}\" rel=\"nofollow noopener\">{}</a>",
                escape(&href),
                escape(u)
            ))
        } else if let Some(mail) = caps.name("email") {
            Some(format!(
                "<a href=\"mailto:{}\">{}</a>",
                escape(mail.as_str()),
                escape(mail.as_str())
            ))
        } else if let (Some(d), Some(c)) = (caps.name("designator"), caps.name("class")) {
            if is_class(c.as_str()) {
                Some(format!(
                    "<a href=\"{}\">{}</a>",
                    escape(d.as_str()),
                    escape(d.as_str())
                ))
            } else {
                None
            }
        } else {
            None
        };
        if let Some(r) = replacement {
            escape_into(&mut out, &text[last..start]);
            out.push_str(&r);
            last = end;
        }
    }
    escape_into(&mut out, &text[last..]);
    out
}

/// Convert line breaks of already-escaped HTML into `<br>` elements.
pub fn breaks(html: &str) -> String {
    html.replace("\r\n", "\n").replace('\n', "<br>\n")
}

/// Render markdown as HTML. Raw HTML in the source is shown as text,
/// only http(s)/mailto/ftp and relative link targets survive, images
/// become links, and designators/URLs in text become links.
pub fn markdown(source: &str, break_on_newline: bool, is_class: &dyn Fn(&str) -> bool) -> String {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    opts.insert(Options::ENABLE_TASKLISTS);
    let mut in_link = 0usize;
    let mut in_code = 0usize;
    let events: Vec<Event<'_>> = Parser::new_ext(source, opts)
        .map(|ev| match ev {
            Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
            Event::SoftBreak if break_on_newline => Event::HardBreak,
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                in_link += 1;
                let dest = if safe_url(&dest_url) {
                    dest_url
                } else {
                    CowStr::from("#")
                };
                Event::Start(Tag::Link {
                    link_type,
                    dest_url: dest,
                    title,
                    id,
                })
            }
            Event::End(TagEnd::Link) => {
                in_link = in_link.saturating_sub(1);
                Event::End(TagEnd::Link)
            }
            Event::Start(Tag::Image {
                dest_url,
                title,
                id,
                ..
            }) => {
                in_link += 1;
                let dest = if safe_url(&dest_url) {
                    dest_url
                } else {
                    CowStr::from("#")
                };
                Event::Start(Tag::Link {
                    link_type: LinkType::Inline,
                    dest_url: dest,
                    title,
                    id,
                })
            }
            Event::End(TagEnd::Image) => {
                in_link = in_link.saturating_sub(1);
                Event::End(TagEnd::Link)
            }
            Event::Start(Tag::CodeBlock(k)) => {
                in_code += 1;
                Event::Start(Tag::CodeBlock(k))
            }
            Event::End(TagEnd::CodeBlock) => {
                in_code = in_code.saturating_sub(1);
                Event::End(TagEnd::CodeBlock)
            }
            Event::Text(t) if in_link == 0 && in_code == 0 => {
                Event::InlineHtml(CowStr::from(linkify(&t, is_class)))
            }
            other => other,
        })
        .collect();
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events.into_iter());
    out
}

/// Python's `urllib.parse.quote` (only `/` and unreserved characters
/// are left as they are).
pub fn py_quote(text: &str) -> String {
    quote_keeping(text, b"/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(c: &str) -> bool {
        c == "issue" || c == "msg"
    }

    #[test]
    fn linkify_escapes_and_links() {
        let s = linkify("see issue42, <b> & https://x.org/a?b=1&c=2.", &classes);
        assert!(s.contains("<a href=\"issue42\">issue42</a>"), "{s}");
        assert!(s.contains("&lt;b&gt; &amp;"), "{s}");
        assert!(
            s.contains("<a href=\"https://x.org/a?b=1&amp;c=2\" rel=\"nofollow noopener\">https://x.org/a?b=1&amp;c=2</a>."),
            "{s}"
        );
        assert!(!linkify("foo42", &classes).contains("<a"));
    }

    #[test]
    fn markdown_drops_raw_html_and_bad_links() {
        let s = markdown(
            "**hi** <script>x</script> [a](javascript:alert(1)) issue7",
            false,
            &classes,
        );
        assert!(s.contains("<strong>hi</strong>"), "{s}");
        assert!(!s.contains("<script>"), "{s}");
        assert!(s.contains("&lt;script&gt;"), "{s}");
        assert!(!s.contains("javascript:"), "{s}");
        assert!(s.contains("<a href=\"issue7\">issue7</a>"), "{s}");
    }

    #[test]
    fn url_safety() {
        assert!(safe_url("issue1"));
        assert!(safe_url("/a:b"));
        assert!(safe_url("https://x"));
        assert!(!safe_url("javascript:alert(1)"));
        assert!(!safe_url(" JavaScript:x"));
        assert!(!safe_url("data:text/html,x"));
    }
}
