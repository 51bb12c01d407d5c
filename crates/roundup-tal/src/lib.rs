//! Roundup's page template language: TAL, METAL and i18n attributes on
//! HTML, with TALES expressions (`path:`, `string:`, `python:`, `not:`,
//! `exists:`, `nocall:`), as Roundup's `zopetal` and `chameleon`
//! template engines read them.
//!
//! A template is read once ([`compile`]) into a [`Program`]: the HTML
//! tree with each element's statements parsed, its expressions compiled
//! (Python expressions by the RustPython project's parser) and its
//! macros indexed. [`render`] runs a program against variables that are
//! [`minijinja::Value`]s, so the same object model serves Jinja2 and TAL
//! pages: attributes are read with `get_attr`/`get_item`, methods are
//! called with `call_method` (keyword arguments as minijinja `Kwargs`).
//!
//! Statement order on one element is TAL's: `define`, `condition`,
//! `repeat`, `content`/`replace`, `attributes`, `omit-tag`; `on-error`
//! catches errors of the element and everything inside it. METAL's
//! `use-macro` replaces the element by the macro, whose `define-slot`s
//! take the `fill-slot`s of the use site; variables are dynamically
//! scoped, so a macro sees the variables of the page that uses it.
//!
//! `i18n:translate` makes an element's content a message: its text, with
//! whitespace folded and each `i18n:name` element as `${name}`, is looked
//! up in the catalog [`render_translated`] is given, and the translation
//! (or the folded text itself) is written with the names filled in.
//! `i18n:attributes` translates attribute values. `i18n:domain` and the
//! rest are accepted: a tracker has one catalog.

mod compile;
mod parse;
mod py;
mod render;
mod tales;
mod values;

use std::sync::Arc;

pub use compile::Program;
pub use render::{render, render_translated};
pub use values::{bound, default_value, is_default, py_repr, py_str};

/// Where `templates/<name>` finds other templates (for their macros).
pub trait Loader: Send + Sync + std::fmt::Debug {
    /// The compiled template called `name` (`page`, `issue.index`), or
    /// `None` when there is none. An error in it is reported as such.
    fn load(&self, name: &str) -> Result<Option<Arc<Program>>, TalError>;
}

/// An error reading or rendering a template, naming the template, the
/// line and (for expressions) the expression.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TalError {
    #[error("template {template}, line {line}: {message}")]
    Parse {
        template: String,
        line: usize,
        message: String,
    },
    #[error("template {template}, line {line}: {message} in expression {expr:?}")]
    Eval {
        template: String,
        line: usize,
        expr: String,
        message: String,
    },
}

impl TalError {
    /// The message alone, without template and line.
    pub fn message(&self) -> &str {
        match self {
            TalError::Parse { message, .. } | TalError::Eval { message, .. } => message,
        }
    }
}

/// How a template's expressions are read: Roundup's `template_engine`
/// `zopetal` or `chameleon`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Dialect {
    /// Zope's TAL: an expression without a type prefix is a path.
    #[default]
    Zope,
    /// Chameleon: an expression without a type prefix is Python, and
    /// `${expr}` in text and attribute values is evaluated and inserted.
    Chameleon,
}

/// Read a template's source (Zope's TAL).
pub fn compile(name: &str, source: &str) -> Result<Arc<Program>, TalError> {
    compile_as(name, source, Dialect::Zope)
}

/// Read a template's source in the given dialect.
pub fn compile_as(name: &str, source: &str, dialect: Dialect) -> Result<Arc<Program>, TalError> {
    compile::compile(name, source, dialect == Dialect::Chameleon).map(Arc::new)
}
