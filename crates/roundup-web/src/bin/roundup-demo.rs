//! roundup-demo: create a demo tracker (classic template, sqlite) in
//! `./demo` and serve it (roundup-demo(1)).
//!
//! The demo has the users admin/admin, demo/demo and anonymous; mail is
//! not sent (outgoing messages are written to `<home>/mail-debug.txt`),
//! nosy mail is off, and new users can register without confirmation.
//! An existing demo is reused; `nuke` deletes it and starts over.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use roundup_core::password::Password;
use roundup_core::value::Value;
use roundup_core::Values;
use roundup_web::server::{self, App, ServeOptions, ServerSettings};

const USAGE: &str = "usage: roundup-demo [-t template] [-b backend] [-p port] [-B bind_address]
                    [-H hostname] [-P urlport] [directory] [nuke]

 -t template   tracker template for a new demo (default classic)
 -b backend    database backend for a new demo (default sqlite)
 -p port       port to listen on (default: the first free of 8917, 9017, ...)
 -B address    address to listen on (default 127.0.0.1)
 -H hostname   host name used in the tracker's URL (default localhost)
 -P urlport    port used in the tracker's URL (default: the listening port)
 -V            print the version and exit
 -h            print this help and exit
 directory     the demo tracker home (default ./demo)
 nuke          delete the existing demo tracker and create a fresh one";

fn fail(msg: &str) -> ! {
    roundup_web::errln!("roundup-demo: {msg}");
    std::process::exit(1)
}

#[derive(Default)]
struct Opts {
    template: Option<String>,
    backend: Option<String>,
    port: Option<u16>,
    bind: Option<String>,
    hostname: Option<String>,
    urlport: Option<u16>,
    directory: Option<PathBuf>,
    nuke: bool,
}

fn parse(args: Vec<String>) -> Opts {
    let mut o = Opts::default();
    let mut it = args.into_iter();
    let need = |it: &mut std::vec::IntoIter<String>, f: &str| -> String {
        it.next()
            .unwrap_or_else(|| fail(&format!("option {f} needs a value\n{USAGE}")))
    };
    let port = |v: String, f: &str| -> u16 {
        v.parse()
            .unwrap_or_else(|_| fail(&format!("{f} {v}: not a port number")))
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" => {
                roundup_web::outln!("{USAGE}");
                std::process::exit(0)
            }
            "-V" | "--version" => {
                roundup_web::outln!("roundup-demo {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0)
            }
            "-t" | "--template" => o.template = Some(need(&mut it, &a)),
            "-b" | "--backend_db" => o.backend = Some(need(&mut it, &a)),
            "-p" | "--port" => o.port = Some(port(need(&mut it, &a), "-p")),
            "-B" | "--bind_address" => o.bind = Some(need(&mut it, &a)),
            "-H" | "--hostname" => o.hostname = Some(need(&mut it, &a)),
            "-P" | "--urlport" => o.urlport = Some(port(need(&mut it, &a), "-P")),
            "nuke" => o.nuke = true,
            s if s.starts_with('-') => fail(&format!("unknown option {s}\n{USAGE}")),
            "sqlite" | "anydbm" | "postgresql" | "mysql" if o.directory.is_some() => {
                o.backend = Some(a)
            }
            _ => {
                if o.directory.is_some() {
                    fail(&format!("unexpected argument {a:?}\n{USAGE}"));
                }
                o.directory = Some(PathBuf::from(a));
            }
        }
    }
    o
}

/// The first port from `start` (in steps of 100, as Roundup) that `bind`
/// can listen on.
fn free_port(bind: &str, start: u16) -> u16 {
    let mut port = start;
    loop {
        roundup_web::outln!("Checking whether port {port} is free ...");
        match std::net::TcpListener::bind((bind, port)) {
            Ok(_) => {
                roundup_web::outln!("it is.");
                return port;
            }
            Err(_) => {
                roundup_web::outln!("it is taken; looking for another.");
                port = port
                    .checked_add(100)
                    .unwrap_or_else(|| fail("no free port found"));
            }
        }
    }
}

fn install_demo(home: &Path, template: &str, backend: &str, web: &str) -> roundup_core::Result<()> {
    if backend != "sqlite" {
        return Err(roundup_core::Error::Config(format!(
            "backend {backend:?} is not available in this build; use sqlite"
        )));
    }
    let mail_log = home.join("mail-debug.txt");
    let settings = vec![
        ("tracker_web".to_string(), web.to_string()),
        ("mail_domain".to_string(), "localhost".to_string()),
        ("mail_debug".to_string(), mail_log.display().to_string()),
        ("web_debug".to_string(), "yes".to_string()),
        ("instant_registration".to_string(), "yes".to_string()),
        ("database".to_string(), "db".to_string()),
    ];
    roundup_tracker::install(home, template, backend, &settings)?;
    // no nosy mail from the demo
    for f in ["nosyreaction.py", "nosyreaction.pyc"] {
        let p = home.join("detectors").join(f);
        if p.exists() {
            std::fs::remove_file(&p)
                .map_err(|e| roundup_core::Error::io(format!("removing {}", p.display()), e))?;
        }
    }
    let tracker = roundup_tracker::Tracker::open(home)?;
    tracker.initialise("admin", "roundup-admin@localhost")?;
    let db = tracker.open_db("1")?;
    let opts = db.options().clone();
    let mut v = Values::new();
    v.insert("username".into(), Some(Value::String("demo".into())));
    v.insert(
        "password".into(),
        Some(Value::Password(Password::hash(
            "demo",
            opts.password_scheme,
            opts.password_rounds,
        ))),
    );
    if db.class("user")?.prop("realname").is_some() {
        v.insert("realname".into(), Some(Value::String("Demo User".into())));
    }
    v.insert("roles".into(), Some(Value::String("User".into())));
    db.create("user", v)?;
    db.commit()
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    roundup_web::server::tune_memory();
    let o = parse(std::env::args().skip(1).collect());
    let home = std::path::absolute(o.directory.clone().unwrap_or_else(|| PathBuf::from("demo")))
        .unwrap_or_else(|e| fail(&format!("bad directory: {e}")));
    let bind = o.bind.clone().unwrap_or_else(|| "127.0.0.1".into());
    let fresh = !home.join("config.ini").exists() || o.nuke;
    if fresh {
        if home.exists() {
            if home.join("config.ini").exists() {
                roundup_web::outln!("Removing the previous demo tracker.");
                std::fs::remove_dir_all(&home)
                    .unwrap_or_else(|e| fail(&format!("removing {}: {e}", home.display())));
            } else if std::fs::read_dir(&home)
                .map(|mut d| d.next().is_some())
                .unwrap_or(false)
            {
                fail(&format!(
                    "refusing to nuke non-tracker directory:\n    {}",
                    home.display()
                ));
            }
        }
        let port = o.port.unwrap_or_else(|| free_port(&bind, 8917));
        let hostname = o.hostname.clone().unwrap_or_else(|| "localhost".into());
        let urlport = o.urlport.unwrap_or(port);
        let web = format!("http://{hostname}:{urlport}/demo/");
        roundup_web::outln!("Creating the demo tracker in:\n    {}", home.display());
        if let Err(e) = install_demo(
            &home,
            o.template.as_deref().unwrap_or("classic"),
            o.backend.as_deref().unwrap_or("sqlite"),
            &web,
        ) {
            fail(&format!("creating the demo tracker: {e}"));
        }
    } else if o.template.is_some() || o.backend.is_some() {
        fail("arguments -t and -b are not allowed when running an existing demo.\n       Use the 'nuke' command to start over.");
    }
    run_demo(&home, &bind, &o);
}

fn run_demo(home: &Path, bind: &str, o: &Opts) {
    let tracker = roundup_tracker::Tracker::open(home).unwrap_or_else(|e| fail(&e.to_string()));
    let url = tracker
        .config()
        .get_str("tracker", "web")
        .unwrap_or_else(|e| fail(&format!("{}: [tracker] web: {e}", home.display())));
    let port = match o.port {
        Some(p) => p,
        None => {
            let hostport = url
                .split("://")
                .nth(1)
                .and_then(|r| r.split('/').next())
                .unwrap_or("");
            match hostport.rsplit_once(':').and_then(|(_, p)| p.parse().ok()) {
                Some(p) => p,
                None => fail(&format!(
                    "The tracker's web URL\n\n  {url}\n\nin\n\n  {}/config.ini\n\nis missing a port number.\n\
                     Are you using demo mode to start a production tracker? Try running demo mode with a\n\
                     different directory. Use roundup-server to serve production trackers.",
                    home.display()
                )),
            }
        }
    };
    drop(tracker);
    let mut app = App::open(
        &[("demo".to_string(), home.to_path_buf())],
        ServerSettings::default(),
    )
    .unwrap_or_else(|e| fail(&e.to_string()));
    app.log = Some(Arc::new(Mutex::new(Box::new(std::io::stderr()))));
    let listener = std::net::TcpListener::bind((bind, port))
        .unwrap_or_else(|e| fail(&format!("cannot listen on {bind}:{port}: {e}")));
    roundup_web::outln!(
        "\nDemo tracker home: {}\nThe demo tracker is being served at:\n\n    {url}\n\n\
         Users: demo (password demo) and admin (password admin).\n\
         Stop the server with Control-C; run roundup-demo again to restart it\n\
         with the same data, or roundup-demo nuke to start from scratch.\n\n\
         The URL above only works on this machine. To serve the demo to others,\n\
         set [tracker] web in {}/config.ini to the address they will use and\n\
         restart. Switching the database backend needs nuke.\n",
        home.display(),
        home.display()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(roundup_web::server::THREAD_STACK)
        .build()
        .unwrap_or_else(|e| fail(&format!("starting the runtime: {e}")));
    let app = Arc::new(app);
    let r = runtime.block_on(async move {
        listener.set_nonblocking(true)?;
        let l = tokio::net::TcpListener::from_std(listener)?;
        server::serve(
            l,
            app,
            None,
            ServeOptions::default(),
            server::shutdown_signal(),
        )
        .await
    });
    if let Err(e) = r {
        fail(&format!("serving: {e}"));
    }
}
