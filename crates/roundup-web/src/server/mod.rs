//! HTTP serving of Roundup trackers (axum on tokio).
//!
//! URLs, as roundup-server lays them out: each tracker lives under
//! `/<name>/`; below that Roundup's own paths: `` (home), `<class>`,
//! `<class><id>` (also with a trailing `/`), `<class><id>/<filename>`
//! (file and message contents), `@@file/<path>` (static files). `/`
//! redirects to the only tracker, or lists the trackers when there are
//! several; `/favicon.ico` is built in.
//!
//! Tracker work (database, templates) runs on blocking threads; each
//! tracker keeps a pool of open connections
//! ([`roundup_tracker::serving::DbPool`]).
//!
//! Below `/<name>/` the server routes, on a blocking thread: `@@file/...`
//! to the static files ([`files`]), `rest/...` and `xmlrpc` to the APIs
//! ([`api`], over `roundup-api`), everything else to the HTML UI
//! (`roundup_ui::client::handle`); then it compresses the reply.

pub mod api;
pub mod compress;
pub mod files;
pub mod site;
pub mod tls;

use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use axum::Router;
use indexmap::IndexMap;
use tokio::net::TcpListener;

use self::site::Site;
use roundup_ui::reply::{self, html_escape, legacy_name, parse_urlencoded, Incoming, Reply};
use roundup_ui::request::FormValue;

/// The built-in favicon (a 16x16 one-colour icon).
static FAVICON: &[u8] = include_bytes!("favicon.ico");

/// Server-wide settings (the roundup-server command line / `[main]`).
#[derive(Clone, Debug)]
pub struct ServerSettings {
    /// Headers passed to the trackers (`-I`), as named there.
    pub include_headers: Vec<String>,
    /// A favicon file to serve instead of the built-in one.
    pub favicon: Option<PathBuf>,
    /// A template for the tracker index page: its text with `{trackers}`
    /// replaced by the list of links.
    pub index_template: Option<PathBuf>,
    /// Largest request body accepted.
    pub max_body: usize,
    /// Log the client from `X-Forwarded-For` (`-P`).
    pub log_forwarded_for: bool,
    /// "debug" mode: reopen trackers on every request.
    pub reopen_trackers: bool,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            include_headers: Vec::new(),
            favicon: None,
            index_template: None,
            max_body: 64 * 1024 * 1024,
            log_forwarded_for: false,
            reopen_trackers: false,
        }
    }
}

/// Where request log lines go.
pub type LogSink = Arc<Mutex<Box<dyn Write + Send>>>;

/// The served trackers and settings.
pub struct App {
    pub trackers: IndexMap<String, Arc<Site>>,
    pub homes: IndexMap<String, PathBuf>,
    pub settings: ServerSettings,
    pub log: Option<LogSink>,
}

impl App {
    /// Open every `(name, home)` tracker.
    pub fn open(
        trackers: &[(String, PathBuf)],
        settings: ServerSettings,
    ) -> roundup_core::Result<App> {
        let mut map = IndexMap::new();
        let mut homes = IndexMap::new();
        for (name, home) in trackers {
            if name.is_empty() || name.contains(['/', ' ', '?', '#', '%']) {
                return Err(roundup_core::Error::Config(format!(
                    "tracker name {name:?} cannot be used in a URL; use letters, digits, '-' and '_'"
                )));
            }
            let st = Site::open(name, home)?;
            map.insert(name.clone(), Arc::new(st));
            homes.insert(name.clone(), home.clone());
        }
        Ok(App {
            trackers: map,
            homes,
            settings,
            log: None,
        })
    }

    fn tracker(&self, name: &str) -> Option<Arc<Site>> {
        if self.settings.reopen_trackers {
            let home = self.homes.get(name)?;
            match Site::open(name, home) {
                Ok(st) => return Some(Arc::new(st)),
                Err(e) => eprintln!("roundup-server: reopening {name}: {e}"),
            }
        }
        self.trackers.get(name).cloned()
    }
}

/// What the accept loop knows about a connection.
#[derive(Clone, Copy, Debug)]
pub struct ConnInfo {
    pub addr: Option<SocketAddr>,
    pub secure: bool,
}

/// The axum router for an [`App`]: every path goes to [`dispatch`].
pub fn router(app: Arc<App>) -> Router {
    Router::new().fallback(dispatch).with_state(app)
}

fn to_response(reply: Reply, head: bool) -> Response<Body> {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    let len = reply.body.len();
    if let Some(h) = builder.headers_mut() {
        for (k, v) in &reply.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::try_from(k.as_str()),
                HeaderValue::try_from(v.as_str()),
            ) {
                h.append(name, value);
            }
        }
        if reply.status != 304 && reply.status != 204 {
            if let Ok(v) = HeaderValue::try_from(len.to_string()) {
                h.insert(axum::http::header::CONTENT_LENGTH, v);
            }
        }
    }
    let body = if head || reply.status == 304 {
        Body::empty()
    } else {
        Body::from(reply.body)
    };
    builder
        .body(body)
        .unwrap_or_else(|_| Response::new(Body::from("internal error building the response")))
}

fn decode_path(p: &str) -> String {
    percent_encoding::percent_decode_str(p)
        .decode_utf8_lossy()
        .into_owned()
}

fn index_page(app: &App) -> Reply {
    let mut list = String::from("<ol>\n");
    for name in app.trackers.keys() {
        let n = html_escape(name);
        list.push_str(&format!("<li><a href=\"{n}/\">{n}</a></li>\n"));
    }
    list.push_str("</ol>\n");
    if let Some(path) = &app.settings.index_template {
        if let Ok(text) = std::fs::read_to_string(path) {
            return Reply::html(200, text.replace("{trackers}", &list));
        }
    }
    Reply::html(
        200,
        format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Roundup trackers index</title></head>\n<body><h1>Roundup trackers index</h1>\n{list}</body></html>\n"
        ),
    )
}

async fn read_form(
    headers: &axum::http::HeaderMap,
    body: Body,
    limit: usize,
    form: &mut Vec<(String, FormValue)>,
) -> Result<(), Reply> {
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|e| Reply::text(413, &format!("request body refused: {e}")))?;
    if bytes.is_empty() {
        return Ok(());
    }
    let ctype = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let lower = ctype.to_ascii_lowercase();
    if lower.starts_with("multipart/form-data") {
        let boundary = multer::parse_boundary(&ctype).map_err(|e| {
            Reply::text(
                400,
                &format!("multipart body without a usable boundary: {e}"),
            )
        })?;
        let stream = futures_util::stream::once(async move { Ok::<_, Infallible>(bytes) });
        let mut mp = multer::Multipart::new(stream, boundary);
        loop {
            let field = match mp.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => return Err(Reply::text(400, &format!("malformed multipart body: {e}"))),
            };
            let name = legacy_name(field.name().unwrap_or(""));
            let filename = field.file_name().map(str::to_string);
            let ctype = field
                .content_type()
                .map(|m| m.to_string())
                .unwrap_or_default();
            let data = field
                .bytes()
                .await
                .map_err(|e| Reply::text(400, &format!("malformed multipart field {name}: {e}")))?;
            match filename {
                Some(f) => form.push((
                    name,
                    FormValue::File {
                        filename: f,
                        content_type: ctype,
                        content: data.to_vec(),
                    },
                )),
                None => form.push((
                    name,
                    FormValue::Text(String::from_utf8_lossy(&data).into_owned()),
                )),
            }
        }
    } else {
        parse_urlencoded(&bytes, form);
    }
    Ok(())
}

fn log_request(
    app: &App,
    info: Option<ConnInfo>,
    headers: &axum::http::HeaderMap,
    method: &str,
    uri: &str,
    status: u16,
) {
    let Some(log) = &app.log else { return };
    let mut client = info
        .and_then(|i| i.addr)
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "-".into());
    if app.settings.log_forwarded_for {
        if let Some(f) = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            if let Some(first) = f.split(',').next() {
                client = format!("{}+", first.trim());
            }
        }
    }
    let when = chrono::Utc::now().format("%d/%b/%Y %H:%M:%S").to_string();
    write_access(log, &access_line(&client, &when, method, uri, status));
}

/// One line of the access log, as Roundup's server writes it.
fn access_line(client: &str, when: &str, method: &str, uri: &str, status: u16) -> String {
    format!("{client} - - [{when}] \"{method} {uri} HTTP/1.1\" {status} -\n")
}

/// The line is made first and handed over whole: the sink is usually the
/// unbuffered standard error, where each piece a `writeln!` passes on
/// would be a system call of its own (ten a request).
fn write_access(log: &LogSink, line: &str) {
    if let Ok(mut w) = log.lock() {
        let _ = w.write_all(line.as_bytes());
        let _ = w.flush();
    }
}

/// Route one request.
pub async fn dispatch(State(app): State<Arc<App>>, req: Request<Body>) -> Response<Body> {
    let info = req.extensions().get::<ConnInfo>().copied();
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_ascii_uppercase();
    let head = method == "HEAD";
    let uri = parts.uri.to_string();
    let raw_path = parts.uri.path().to_string();
    let reply = route(&app, info, &parts, body, &method, &raw_path).await;
    log_request(&app, info, &parts.headers, &method, &uri, reply.status);
    to_response(reply, head)
}

async fn route(
    app: &Arc<App>,
    info: Option<ConnInfo>,
    parts: &axum::http::request::Parts,
    body: Body,
    method: &str,
    raw_path: &str,
) -> Reply {
    let path = decode_path(raw_path);
    let trimmed = path.trim_start_matches('/');
    if trimmed.is_empty() {
        return match app.trackers.len() {
            1 => match app.trackers.keys().next() {
                Some(name) => Reply::redirect(&format!("/{name}/")),
                None => index_page(app),
            },
            _ => index_page(app),
        };
    }
    if trimmed == "favicon.ico" {
        let mut r = Reply::new(200);
        r.set("Content-Type", "image/x-icon");
        r.set("Cache-Control", "public, max-age=86400");
        r.body = match &app.settings.favicon {
            Some(p) => std::fs::read(p).unwrap_or_else(|_| FAVICON.to_vec()),
            None => FAVICON.to_vec(),
        };
        r.compressible = false;
        return r;
    }
    let (name, rest) = match trimmed.split_once('/') {
        Some((n, r)) => (n, Some(r)),
        None => (trimmed, None),
    };
    let Some(st) = app.tracker(name) else {
        return Reply::html(
            404,
            reply::error_page("Not found", &format!("/{name}: no such tracker")),
        );
    };
    let Some(rest) = rest else {
        // `/demo` -> `/demo/` (keeping the query)
        let q = parts
            .uri
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        return Reply::redirect(&format!("/{name}/{q}"));
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for (k, v) in &parts.headers {
        headers.push((
            k.as_str().to_ascii_lowercase(),
            String::from_utf8_lossy(v.as_bytes()).into_owned(),
        ));
    }
    let mut passthrough = Vec::new();
    for h in &app.settings.include_headers {
        let hv = parts
            .headers
            .get(h.as_str())
            .or_else(|| parts.headers.get(h.replace('_', "-").as_str()));
        if let Some(v) = hv {
            passthrough.push((
                h.clone(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            ));
        }
    }
    let mut form = Vec::new();
    let mut raw_body = Vec::new();
    if reply::api_path(rest) {
        match axum::body::to_bytes(body, app.settings.max_body).await {
            Ok(b) => raw_body = b.to_vec(),
            Err(e) => return Reply::text(413, &format!("request body refused: {e}")),
        }
    } else if let Err(r) = read_form(&parts.headers, body, app.settings.max_body, &mut form).await {
        return r;
    }
    if let Some(q) = parts.uri.query() {
        parse_urlencoded(q.as_bytes(), &mut form);
    }
    let inc = Incoming {
        method: method.to_string(),
        path: rest.to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers,
        form,
        remote_addr: info.and_then(|i| i.addr),
        secure: info.is_some_and(|i| i.secure),
        passthrough,
        mount: format!("/{name}/"),
        body: raw_body,
    };
    let handled = if inc.only_reads() {
        // Reading is short and CPU-bound: answered here, on the runtime's
        // worker, it costs no hand-over to another thread and back (a
        // quarter of an item page's time on two cores).
        // A panic is answered 500 here as spawn_blocking answers it below.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| answer(&st, &inc)))
            .map_err(|_| "panicked".to_string())
    } else {
        tokio::task::spawn_blocking(move || answer(&st, &inc))
            .await
            .map_err(|e| e.to_string())
    };
    match handled {
        Ok(r) => r,
        Err(e) => Reply::html(
            500,
            reply::error_page("Error", &format!("request handler failed: {e}")),
        ),
    }
}

/// One request below a tracker's mount point, compressed as the settings
/// ask.
fn answer(site: &Arc<Site>, inc: &Incoming) -> Reply {
    let mut reply = handle_tracker(site, inc);
    files::maybe_compress(site.settings.dynamic_compression, inc, &mut reply);
    reply
}

/// One request below a tracker's mount point.
fn handle_tracker(site: &Arc<Site>, inc: &Incoming) -> Reply {
    // Static files need neither a user nor a database connection.
    let segs: Vec<&str> = inc.path.split('/').collect();
    if matches!(segs.first(), Some(&"@@file") | Some(&"_file")) {
        let rel = segs[1..].join("/");
        return match files::find_static(&site.settings, &rel) {
            Some(path) => files::serve_static(&site.settings, inc, &path, &rel),
            None => Reply::html(
                404,
                reply::error_page("Not found", &format!("{rel}: no such file")),
            ),
        };
    }
    if inc.is_api() {
        return api::handle(site, inc);
    }
    roundup_ui::client::handle(&site.ui, inc)
}

/// HTTP protocol options for [`serve`].
#[derive(Clone, Copy, Debug)]
pub struct ServeOptions {
    /// HTTP/1.1 keep-alive (`-V HTTP/1.0` turns it off).
    pub keep_alive: bool,
    /// How long to wait for open requests at shutdown.
    pub grace: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            keep_alive: true,
            grace: Duration::from_secs(10),
        }
    }
}

/// Stack size of the server's threads. Tracker code (detectors, permission
/// checks) runs on them in the embedded Python interpreter, whose frames
/// are large; the space is reserved, not used, until a call needs it.
pub const THREAD_STACK: usize = 16 << 20;

/// How often the server looks for mail in a tracker's outbox that is due
/// for another try (messages are first tried right after their commit).
pub const OUTBOX_POLL: Duration = Duration::from_secs(30);

/// Retry the outbox of a served tracker every [`OUTBOX_POLL`], on a thread
/// of its own (tracker code may run, as on request threads), until the
/// site is dropped.
fn spawn_outbox_worker(site: std::sync::Weak<Site>) {
    let spawned = std::thread::Builder::new()
        .name("outbox".into())
        .stack_size(THREAD_STACK)
        .spawn(move || loop {
            std::thread::sleep(OUTBOX_POLL);
            let Some(site) = site.upgrade() else {
                return;
            };
            let tracker = &site.served.tracker;
            let result = tracker.open_db("1").and_then(|db| {
                if db.outbox(true)?.is_empty() {
                    return Ok((0, 0));
                }
                db.deliver_outbox(false)
            });
            match result {
                Ok((0, 0)) => {}
                Ok((sent, failed)) => roundup_core::errln!(
                    "roundup-server: {}: outbox retry: {sent} sent, {failed} failed",
                    site.served.name
                ),
                Err(e) => {
                    roundup_core::errln!("roundup-server: {}: outbox retry: {e}", site.served.name)
                }
            }
        });
    if let Err(e) = spawned {
        roundup_core::errln!("roundup-server: cannot start the outbox thread: {e}");
    }
}

/// Write [`Site::cache_report`] to the server's error log every `[web]
/// cache_stats_interval` seconds (nothing when it is 0), until the site is
/// dropped.
fn spawn_stats_worker(site: std::sync::Weak<Site>) {
    let Some(interval) = site.upgrade().and_then(|s| {
        match s
            .served
            .tracker
            .config()
            .our_int("web", "cache_stats_interval")
        {
            Ok(n) if n > 0 => Some(Duration::from_secs(n.unsigned_abs())),
            Ok(_) => None,
            Err(e) => {
                roundup_core::errln!("roundup-server: {}: {e}", s.served.name);
                None
            }
        }
    }) else {
        return;
    };
    let spawned = std::thread::Builder::new()
        .name("cache-stats".into())
        .spawn(move || loop {
            std::thread::sleep(interval);
            let Some(site) = site.upgrade() else {
                return;
            };
            roundup_core::errln!("roundup-server: {}", site.cache_report());
        });
    if let Err(e) = spawned {
        roundup_core::errln!("roundup-server: cannot start the cache statistics thread: {e}");
    }
}

/// Accept connections until `shutdown` completes, then let open requests
/// finish (up to `opts.grace`).
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    tls: Option<Arc<rustls::ServerConfig>>,
    opts: ServeOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    use hyper_util::rt::TokioIo;
    use tower::ServiceExt;

    spawn_trimmer();
    for site in app.trackers.values() {
        spawn_outbox_worker(Arc::downgrade(site));
        spawn_stats_worker(Arc::downgrade(site));
    }
    let router = router(app);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    tokio::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            res = listener.accept() => match res {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("roundup-server: accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let router = router.clone();
        let acceptor = acceptor.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let info = ConnInfo {
                addr: Some(addr),
                secure: acceptor.is_some(),
            };
            let svc = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(info);
                let r = router.clone();
                async move { r.oneshot(req.map(Body::new)).await }
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.keep_alive(opts.keep_alive);
            match acceptor {
                Some(acc) => match acc.accept(stream).await {
                    Ok(tls_stream) => {
                        let conn = builder.serve_connection(TokioIo::new(tls_stream), svc);
                        let _ = watcher.watch(conn).await;
                    }
                    Err(e) => eprintln!("roundup-server: TLS handshake with {addr} failed: {e}"),
                },
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), svc);
                    let _ = watcher.watch(conn).await;
                }
            }
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(opts.grace) => {
            eprintln!("roundup-server: requests still open after {:?}; stopping anyway", opts.grace);
        }
    }
    Ok(())
}

/// Keep a server process's memory small; call first thing in `main` of a
/// binary whose global allocator is mimalloc. Transparent huge pages (on
/// by default on many Linux systems) round the allocator's small,
/// scattered heaps up to 2 MiB pages, and each pooled SQLite connection
/// would otherwise keep its own page cache of up to 2 MiB.
pub fn tune_memory() {
    /// How long mimalloc keeps freed pages before returning them.
    const PURGE_DELAY_MS: std::ffi::c_long = 100;
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_THP_DISABLE only sets a flag on this
    // process; it reads no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
    // Give freed memory back to the system 100 ms after it was freed
    // (option 15 is `mi_option_purge_delay` in mimalloc 2 and 3), unless
    // the administrator chose a delay (mimalloc's own MIMALLOC_PURGE_DELAY,
    // in milliseconds). At once (0) cost more than the page itself: each
    // request's memory went back with `madvise` and came back as page
    // faults, and on a VM the TLB shootdowns between cores stalled both
    // (2.4 ms of system time on a 1.6 ms index page). A tenth of a second
    // keeps a thread's pages for its next request; the resident set of a
    // 2-minute mix went from 34.6 to 37.0 MB.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: setting an allocator option is a plain store of an integer.
        unsafe {
            libmimalloc_sys::mi_option_set(15, PURGE_DELAY_MS);
        }
    }
    // C code (SQLite above all) allocates with the system's malloc. glibc
    // gives each thread that allocates its own 64 MiB arena and keeps
    // what is freed in it: under random traffic a server's arenas held
    // 80 MB that no cache accounted for. Two arenas, large blocks from
    // mmap (returned when freed), and the top of the heap trimmed early;
    // [`trim_memory`] gives back the free pages inside the arenas.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before the
    // server's threads start.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 10);
    }
    // The storage backend's share is set per tracker as it is opened
    // (`Tracker::limit_process_memory`).
}

/// Give memory the system allocator holds free back to the system (the
/// free pages inside glibc's arenas, which it keeps otherwise). The
/// server calls it every [`TRIM_INTERVAL`] while it serves.
pub fn trim_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// How often [`trim_memory`] runs in a serving process.
pub const TRIM_INTERVAL: Duration = Duration::from_secs(1);

/// Run [`trim_memory`] every [`TRIM_INTERVAL`] on a thread of its own
/// (one per process, however many servers it runs).
fn spawn_trimmer() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(start_trimmer);
}

fn start_trimmer() {
    let spawned = std::thread::Builder::new()
        .name("trim-memory".into())
        .stack_size(256 << 10)
        .spawn(|| {
            let mut ticks = 0u32;
            loop {
                std::thread::sleep(TRIM_INTERVAL);
                trim_memory();
                ticks = ticks.saturating_add(1);
                if ticks == STARTUP_CODE_AFTER {
                    page_out_startup_code();
                }
            }
        });
    if let Err(e) = spawned {
        roundup_core::errln!("roundup-server: cannot start the memory trimming thread: {e}");
    }
}

/// Ticks of the trimmer (seconds of serving) after which the start-up
/// code is paged out (see [`page_out_startup_code`]): the trackers are
/// open by then (they open before serving starts), and at five seconds
/// the first requests of a busy start had the resident set at its peak.
const STARTUP_CODE_AFTER: u32 = 1;

/// Let the system take back the pages of our own executable that only
/// start-up used. Opening a tracker runs code that serving never runs
/// again (the Python compiler and standard library evaluating schema.py
/// and the detectors, the template compilers, the schema sync): measured
/// on the classic tracker, 33 MB of the binary was resident after start
/// and 15 MB of it was what serving the random mix used afterwards.
///
/// Only mappings of the executable that are not writable and hold no
/// anonymous page are touched: every page of those is a clean copy of the
/// file, so dropping it loses nothing (it is read back from the file on
/// its next use). That leaves out the data the loader relocated (RELRO),
/// whose pages differ from the file. `MADV_PAGEOUT` frees the pages where
/// the kernel lets this process (it must own or be able to write the
/// executable); `MADV_DONTNEED` then unmaps what is left, which stays in
/// the system's file cache, reclaimable, instead of in this process.
/// Linux only; elsewhere, or if the kernel refuses, nothing happens.
/// Returns the bytes of mappings advised.
pub fn page_out_startup_code() -> usize {
    #[cfg(target_os = "linux")]
    {
        let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
            return 0;
        };
        let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
            return 0;
        };
        let mut advised = 0usize;
        for (start, end) in clean_file_mappings(&smaps, &exe) {
            let len = end - start;
            let addr = start as *mut libc::c_void;
            // SAFETY: the range is a whole mapping of this process, read
            // from /proc/self/smaps, of the executable file, not writable
            // and without anonymous pages: every resident page is a clean
            // copy of the file. PAGEOUT and DONTNEED only drop such pages
            // (the next access reads them from the file again); neither
            // changes what the memory reads as.
            unsafe {
                libc::madvise(addr, len, libc::MADV_PAGEOUT);
                if libc::madvise(addr, len, libc::MADV_DONTNEED) == 0 {
                    advised += len;
                }
            }
        }
        advised
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

/// The (start, end) of every mapping in `smaps` (the text of
/// /proc/self/smaps) of file `exe` that is not writable and has no
/// anonymous (copied-on-write) page.
fn clean_file_mappings(smaps: &str, exe: &std::path::Path) -> Vec<(usize, usize)> {
    // every mapping in order: its range, whether it is a read-only
    // mapping of `exe`, whether it holds anonymous pages
    let mut maps: Vec<((usize, usize), bool, bool)> = Vec::new();
    for line in smaps.lines() {
        let mut f = line.split_whitespace();
        let Some(first) = f.next() else { continue };
        if first == "Anonymous:" {
            // "Anonymous:  N kB", of the mapping last opened
            if let Some(m) = maps.last_mut() {
                m.2 |= f.next() != Some("0");
            }
            continue;
        }
        if first.ends_with(':') {
            continue;
        }
        // a mapping's header: address perms offset dev inode path
        let Some((a, b)) = first.split_once('-') else {
            continue;
        };
        let range = (
            usize::from_str_radix(a, 16).unwrap_or(0),
            usize::from_str_radix(b, 16).unwrap_or(0),
        );
        let perms = f.next().unwrap_or("");
        let path = f.nth(3).map(std::path::Path::new);
        let candidate = path == Some(exe) && !perms.contains('w') && range.1 > range.0;
        maps.push((range, candidate, false));
    }
    maps.into_iter()
        .filter(|&(_, candidate, anonymous)| candidate && !anonymous)
        .map(|(range, ..)| range)
        .collect()
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut t), Ok(mut i)) => {
            tokio::select! {
                _ = t.recv() => {}
                _ = i.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{access_line, clean_file_mappings, write_access, LogSink};
    use std::sync::{Arc, Mutex};

    /// Counts the writes it is handed and keeps what they held.
    struct Counting(Arc<Mutex<(usize, Vec<u8>)>>);

    impl std::io::Write for Counting {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let mut seen = self.0.lock().unwrap();
            seen.0 += 1;
            seen.1.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn an_access_line_reaches_the_log_in_one_write() {
        let seen = Arc::new(Mutex::new((0, Vec::new())));
        let sink: LogSink = Arc::new(Mutex::new(Box::new(Counting(seen.clone()))));
        let line = access_line(
            "127.0.0.1",
            "07/Dec/2026 22:28:18",
            "GET",
            "/bench/issue1",
            200,
        );
        write_access(&sink, &line);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.0, 1, "one write, not one per piece of the line");
        assert_eq!(
            String::from_utf8_lossy(&seen.1),
            "127.0.0.1 - - [07/Dec/2026 22:28:18] \"GET /bench/issue1 HTTP/1.1\" 200 -\n"
        );
    }

    #[test]
    fn only_clean_read_only_mappings_of_the_executable_are_dropped() {
        let smaps = "\
1000-3000 r--p 00000000 fe:00 42 /usr/bin/roundup-server
Size:                  8 kB
Anonymous:             0 kB
VmFlags: rd mr mw me
3000-9000 r-xp 00002000 fe:00 42 /usr/bin/roundup-server
Anonymous:             0 kB
9000-a000 r--p 00008000 fe:00 42 /usr/bin/roundup-server
Anonymous:             4 kB
a000-b000 rw-p 00009000 fe:00 42 /usr/bin/roundup-server
Anonymous:             4 kB
b000-c000 r--p 00000000 fe:00 43 /usr/lib/libc.so.6
Anonymous:             0 kB
c000-d000 rw-p 00000000 00:00 0
Anonymous:             4 kB
";
        assert_eq!(
            clean_file_mappings(smaps, std::path::Path::new("/usr/bin/roundup-server")),
            vec![(0x1000, 0x3000), (0x3000, 0x9000)],
            "the relocated (anonymous) and writable mappings and other files stay"
        );
    }
}
