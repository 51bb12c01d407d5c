//! The tracker templates built into the binary (classic, minimal, ...).
//!
//! Each template is a directory with `TEMPLATE-INFO.txt`, `schema.py`,
//! `initial_data.py`, `detectors/` and (for the web UI) `html/`. Installing
//! copies it into a tracker home; a tracker's own files then override
//! nothing but themselves, so admins edit the copy.

use std::fs;
use std::path::Path;

use include_dir::{include_dir, Dir, DirEntry};
use roundup_core::{Error, Result};

static TEMPLATES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/templates");

/// What `TEMPLATE-INFO.txt` says about a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateInfo {
    pub name: String,
    pub description: String,
    pub intended_for: String,
}

/// All embedded templates, sorted by name.
pub fn list() -> Vec<TemplateInfo> {
    let mut out: Vec<TemplateInfo> = TEMPLATES
        .dirs()
        .filter_map(|d| {
            let dirname = d.path().file_name()?.to_str()?.to_string();
            let info = d
                .get_file(d.path().join("TEMPLATE-INFO.txt"))
                .and_then(|f| f.contents_utf8())
                .unwrap_or("");
            Some(parse_info(&dirname, info))
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Parse the `Key: value` lines of TEMPLATE-INFO.txt (values may continue
/// on indented lines).
pub fn parse_info(dirname: &str, text: &str) -> TemplateInfo {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with(char::is_whitespace) {
            if let Some((_, v)) = fields.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            fields.push((k.trim().to_lowercase(), v.trim().to_string()));
        }
    }
    let get = |k: &str| {
        fields
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let name = get("name");
    TemplateInfo {
        name: if name.is_empty() {
            dirname.to_string()
        } else {
            name
        },
        description: get("description"),
        intended_for: get("intended-for"),
    }
}

/// Whether an embedded template of this name exists.
pub fn exists(name: &str) -> bool {
    TEMPLATES.get_dir(name).is_some()
}

/// One file of a template, e.g. `("classic", "schema.py")`.
pub fn file(template: &str, path: &str) -> Option<&'static [u8]> {
    TEMPLATES
        .get_file(Path::new(template).join(path))
        .map(|f| f.contents())
}

/// Copy a template's files into `home` (created if missing). Existing
/// files are overwritten.
pub fn copy_to(name: &str, home: &Path) -> Result<()> {
    let dir = TEMPLATES.get_dir(name).ok_or_else(|| {
        let names: Vec<String> = list().into_iter().map(|t| t.name).collect();
        Error::value(format!(
            "there is no template \"{name}\" (available: {})",
            names.join(", ")
        ))
    })?;
    fs::create_dir_all(home).map_err(|e| Error::io(format!("creating {}", home.display()), e))?;
    copy_dir(dir, dir.path(), home)
}

fn copy_dir(dir: &Dir<'_>, root: &Path, home: &Path) -> Result<()> {
    for entry in dir.entries() {
        let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let dest = home.join(rel);
        match entry {
            DirEntry::Dir(d) => {
                fs::create_dir_all(&dest)
                    .map_err(|e| Error::io(format!("creating {}", dest.display()), e))?;
                copy_dir(d, root, home)?;
            }
            DirEntry::File(f) => {
                if let Some(parent) = dest.parent() {
                    fs::create_dir_all(parent)
                        .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
                }
                fs::write(&dest, f.contents())
                    .map_err(|e| Error::io(format!("writing {}", dest.display()), e))?;
            }
        }
    }
    Ok(())
}
