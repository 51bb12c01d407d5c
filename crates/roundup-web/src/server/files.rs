//! Static files (`/@@file/<path>` from `[main] static_files` and the
//! tracker's `html/`), with validators, cache headers and precompressed
//! siblings.

use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::compress;
use roundup_ui::reply::{http_date, not_modified_since, Incoming, Reply};
use roundup_ui::settings::WebSettings;

/// Find `rel` below the static directories, then the templates directory.
/// `None` when it is missing or tries to leave them.
pub fn find_static(settings: &WebSettings, rel: &str) -> Option<PathBuf> {
    let rel_path = Path::new(rel);
    if rel.is_empty()
        || rel_path
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
    {
        return None;
    }
    for dir in &settings.static_files {
        // Roundup: a static_files entry "/-" stops the search (no html/)
        let s = dir.to_string_lossy();
        if s.ends_with("/-") || s == "-" {
            return None;
        }
        let candidate = dir.join(rel_path);
        if candidate.is_file() {
            return Some(candidate);
        }
    }
    let candidate = settings.templates_dir.join(rel_path);
    candidate.is_file().then_some(candidate)
}

/// The mime type Roundup gives a static file.
pub fn static_mime(name: &str) -> String {
    match mime_guess::from_path(name).first_raw() {
        Some(m) => m.to_string(),
        None if name.ends_with(".css") => "text/css".into(),
        None => "text/plain".into(),
    }
}

fn cache_control(mime: &str) -> Option<&'static str> {
    match mime {
        "application/javascript" | "text/javascript" => Some("public, max-age=1209600"),
        "text/css" => Some("public, max-age=4838400"),
        _ => None,
    }
}

fn mtime_secs(m: &std::fs::Metadata) -> u64 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Serve a static file found by [`find_static`].
pub fn serve_static(settings: &WebSettings, inc: &Incoming, path: &Path, rel: &str) -> Reply {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(_) => return Reply::text(404, "Not found"),
    };
    let mime = static_mime(rel);
    let mut reply = Reply::new(200);
    reply.set("Content-Type", &mime);
    if let Some(cc) = cache_control(&mime) {
        reply.set("Cache-Control", cc);
    }
    let mtime = mtime_secs(&meta);
    reply.set("Last-Modified", &http_date(mtime));

    // a precompressed sibling the client accepts and that is not stale
    let mut serve_path = path.to_path_buf();
    let mut length = meta.len();
    if settings.use_precompressed_files {
        for enc in compress::acceptable(inc.header("accept-encoding")) {
            let sibling = PathBuf::from(format!("{}.{}", path.display(), enc.file_suffix()));
            let Ok(smeta) = std::fs::metadata(&sibling) else {
                continue;
            };
            if mtime_secs(&smeta) < mtime {
                eprintln!(
                    "roundup-server: precompressed file {} is older than {}; not using it",
                    sibling.display(),
                    path.display()
                );
                continue;
            }
            serve_path = sibling;
            length = smeta.len();
            reply.set("Content-Encoding", enc.token());
            reply.vary("Accept-Encoding");
            reply.compressible = false;
            break;
        }
    }
    let etag = format!("\"{:x}-{:x}-{:x}\"", meta.ino(), length, mtime);
    reply.set("ETag", &etag);

    if let Some(inm) = inc.header("if-none-match") {
        let prefix = format!("{}-", &etag[..etag.len() - 1]);
        let hit = inm
            .split(',')
            .map(str::trim)
            .find(|t| *t == etag || t.starts_with(&prefix))
            .map(str::to_string);
        if let Some(tag) = hit {
            reply.set("ETag", &tag);
            reply.vary("Accept-Encoding");
            reply.status = 304;
            reply.compressible = false;
            return reply;
        }
    }
    if not_modified_since(inc, mtime) {
        reply.vary("Accept-Encoding");
        reply.status = 304;
        reply.compressible = false;
        return reply;
    }
    match std::fs::read(&serve_path) {
        Ok(data) => {
            reply.body = data;
            reply
        }
        Err(e) => Reply::text(500, &format!("reading {}: {e}", serve_path.display())),
    }
}

/// Apply dynamic compression to a reply (Roundup's `compress_encode`),
/// tagging the ETag with the encoding.
pub fn maybe_compress(settings_dynamic: bool, inc: &Incoming, reply: &mut Reply) {
    if !settings_dynamic || !reply.compressible || inc.method == "HEAD" {
        return;
    }
    if reply.status == 304 || reply.status == 204 || reply.get("Content-Encoding").is_some() {
        return;
    }
    if !compress::worth_compressing(reply.get("Content-Type"), reply.body.len()) {
        return;
    }
    reply.vary("Accept-Encoding");
    let Some(enc) = compress::acceptable(inc.header("accept-encoding"))
        .into_iter()
        .next()
    else {
        return;
    };
    let Some(data) = compress::compress(enc, &reply.body) else {
        return;
    };
    reply.body = data;
    reply.set("Content-Encoding", enc.token());
    if let Some(etag) = reply.get("ETag").map(str::to_string) {
        if let Some(end) = etag.rfind('"') {
            reply.set(
                "ETag",
                &format!("{}-{}{}", &etag[..end], enc.token(), &etag[end..]),
            );
        }
    }
}
