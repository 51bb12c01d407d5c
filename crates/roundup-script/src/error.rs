//! Script failures and how they become core errors.

use std::fmt;

use roundup_core::Error;
use starlark::ErrorKind;

/// A syntax or runtime failure of a tracker script, with where it happened.
///
/// Its text is `file:line:col: message`, followed for runtime errors by the
/// Starlark traceback (the chain of calls that led there).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptError {
    /// The label the script was loaded under (normally its path).
    pub file: String,
    /// 1-based line; 0 when the failure has no position.
    pub line: usize,
    /// 1-based column; 0 when the failure has no position.
    pub column: usize,
    pub message: String,
    /// "Traceback (most recent call last): ..." for runtime errors.
    pub traceback: Option<String>,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )?;
        } else {
            write!(f, "{}: {}", self.file, self.message)?;
        }
        if let Some(tb) = &self.traceback {
            write!(f, "\n{}", tb.trim_end())?;
        }
        Ok(())
    }
}

impl std::error::Error for ScriptError {}

impl From<ScriptError> for Error {
    fn from(e: ScriptError) -> Error {
        Error::Script(e.to_string())
    }
}

/// A core error travelling through Starlark frames unchanged: `Reject(...)`,
/// `ValueError(...)`, and errors of the Db calls a script makes.
#[derive(Debug)]
pub(crate) struct Abort(pub Error);

impl fmt::Display for Abort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for Abort {}

/// Wrap a core error so that it can be returned from a native function.
pub(crate) fn abort(e: Error) -> starlark::Error {
    starlark::Error::new_native(anyhow::Error::new(Abort(e)))
}

/// A plain message error raised from a native function; it gets the
/// script position like any Starlark runtime error.
pub(crate) fn script_err(msg: impl fmt::Display) -> starlark::Error {
    starlark::Error::new_native(anyhow::anyhow!("{msg}"))
}

fn carried(kind: &ErrorKind) -> Option<&Abort> {
    match kind {
        ErrorKind::Native(a)
        | ErrorKind::Other(a)
        | ErrorKind::Value(a)
        | ErrorKind::Function(a)
        | ErrorKind::Fail(a) => a.downcast_ref::<Abort>(),
        _ => None,
    }
}

fn take_carried(kind: ErrorKind) -> Option<Error> {
    match kind {
        ErrorKind::Native(a)
        | ErrorKind::Other(a)
        | ErrorKind::Value(a)
        | ErrorKind::Function(a)
        | ErrorKind::Fail(a) => a.downcast::<Abort>().ok().map(|ab| ab.0),
        _ => None,
    }
}

/// Turn a Starlark error from script `label` into the core error callers
/// see. Rejections, value errors, permission refusals and errors already
/// located in another script pass through as they are; everything else
/// becomes [`Error::Script`] naming file, line and column.
pub(crate) fn to_core(label: &str, err: starlark::Error) -> Error {
    let located = locate(label, &err);
    let passes = carried(err.kind()).map(|a| {
        matches!(
            a.0,
            Error::Reject(_) | Error::Value(_) | Error::Unauthorised(_) | Error::Script(_)
        )
    });
    match passes {
        Some(true) => match take_carried(err.into_kind()) {
            Some(e) => e,
            None => located.into(),
        },
        _ => located.into(),
    }
}

/// The position and message of a Starlark error.
pub(crate) fn locate(label: &str, err: &starlark::Error) -> ScriptError {
    let message = match carried(err.kind()) {
        Some(a) => a.0.to_string(),
        None => err.without_diagnostic().to_string(),
    };
    let (file, line, column) = match err.span() {
        Some(span) => {
            let pos = span.resolve_span().begin;
            (span.filename().to_string(), pos.line + 1, pos.column + 1)
        }
        None => (label.to_string(), 0, 0),
    };
    let stack = err.call_stack().to_string();
    ScriptError {
        file,
        line,
        column,
        message,
        traceback: if stack.trim().is_empty() {
            None
        } else {
            Some(stack)
        },
    }
}
