//! `roundup-mailgw`: feed e-mail to a tracker, with Roundup's command line.
//!
//! ```text
//! roundup-mailgw [-h] [-v] [-c class] [-S [class.]prop=value]... [-O dir] [-T url]
//!                [instance_home] [source specification [mailbox]]
//! ```
//!
//! Without a source one message is read from standard input (the MTA
//! alias pipe). `mailbox FILE` handles every message of an mbox file,
//! locked, and empties it only when every message was handled; `maildir
//! DIR` (not in Roundup) handles `new/` and moves each handled message to
//! `cur/`. The network sources of Roundup (pop, pops, apop, imap, imaps,
//! imaps_cram, imaps_oauth) are recognised and refused with a clear
//! message: this build does not fetch mail itself yet (let fetchmail or
//! the MTA deliver to the pipe, an mbox or a maildir).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use roundup_mailgw::gateway::{handle, GatewayOptions, Outcome};
use roundup_mailgw::sources::{maildir_messages, mark_done, read_mbox};
use roundup_tracker::Tracker;

const USAGE: &str = "\
usage: roundup-mailgw [-h] [-v] [-c DEFAULT_CLASS] [-S SET_VALUE]
                      [-O OAUTH_DIRECTORY] [-T OAUTH_TOKEN_ENDPOINT]
                      [args ...]

positional arguments:
  args                  [instance_home] [source specification [mailbox]]

options:
  -h, --help            show this help message and exit
  -v, --version         print version and exit
  -c DEFAULT_CLASS, --default-class DEFAULT_CLASS
                        class of the items new mail creates (overrides
                        [mailgw] default_class)
  -S SET_VALUE, --set-value SET_VALUE
                        '[class.]property=value[;property=value]' set on
                        what each message creates; class defaults to msg
  -O OAUTH_DIRECTORY, --oauth-directory OAUTH_DIRECTORY
                        directory with OAuth credentials (imaps_oauth)
  -T OAUTH_TOKEN_ENDPOINT, --oauth-token-endpoint OAUTH_TOKEN_ENDPOINT
                        OAuth token endpoint URL (imaps_oauth)

Ways to call it:
 . without arguments: the tracker home is taken from ROUNDUP_INSTANCE and
   one message is read from standard input;
 . with the tracker home only: one message from standard input;
 . with the tracker home, 'mailbox' and an mbox file: every message in it;
 . with the tracker home, 'maildir' and a maildir: every new message.
";

struct Args {
    default_class: Option<String>,
    set_values: Vec<String>,
    positional: Vec<String>,
    version: bool,
    help: bool,
}

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut a = Args {
        default_class: None,
        set_values: Vec::new(),
        positional: Vec::new(),
        version: false,
        help: false,
    };
    let mut i = 0;
    let value = |i: &mut usize, name: &str, inline: Option<&str>| -> Result<String, String> {
        if let Some(v) = inline {
            return Ok(v.to_string());
        }
        *i += 1;
        argv.get(*i)
            .cloned()
            .ok_or_else(|| format!("argument {name}: expected one argument"))
    };
    while i < argv.len() {
        let arg = argv[i].as_str();
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v)),
            _ => (arg, None),
        };
        match name {
            "-h" | "--help" => a.help = true,
            "-v" | "--version" => a.version = true,
            "-c" | "--default-class" | "--default" => {
                a.default_class = Some(value(&mut i, "-c/--default-class", inline)?)
            }
            "-S" | "--set-value" | "--set" => {
                a.set_values.push(value(&mut i, "-S/--set-value", inline)?)
            }
            "-O" | "--oauth-directory" => {
                value(&mut i, "-O/--oauth-directory", inline)?;
            }
            "-T" | "--oauth-token-endpoint" => {
                value(&mut i, "-T/--oauth-token-endpoint", inline)?;
            }
            s if s.len() > 2 && s.starts_with("-c") => a.default_class = Some(s[2..].to_string()),
            s if s.len() > 2 && s.starts_with("-S") => a.set_values.push(s[2..].to_string()),
            s if s.starts_with('-') && s.len() > 1 => {
                return Err(format!("unrecognized arguments: {s}"));
            }
            _ => a.positional.push(arg.to_string()),
        }
        i += 1;
    }
    Ok(a)
}

fn fail(msg: &str) -> ExitCode {
    eprint!("{USAGE}");
    eprintln!("\nError: {msg}");
    ExitCode::from(1)
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) => {
            eprint!("{USAGE}");
            eprintln!("roundup-mailgw: error: {e}");
            return ExitCode::from(2);
        }
    };
    if args.help {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if args.version {
        println!(
            "{} (Roundup in Rust {}, compatible with Roundup 2.6)",
            roundup_mail::ROUNDUP_VERSION,
            env!("CARGO_PKG_VERSION")
        );
        return ExitCode::SUCCESS;
    }
    let home = match args.positional.first() {
        Some(h) => h.clone(),
        None => std::env::var("ROUNDUP_INSTANCE").unwrap_or_default(),
    };
    if home.is_empty() || !Path::new(&home).is_dir() {
        return fail("The instance home must be specified");
    }
    let tracker = match Tracker::open(Path::new(&home)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("roundup-mailgw: {home}: {e}");
            return ExitCode::from(1);
        }
    };
    let opts = match GatewayOptions::from_config(
        tracker.config(),
        args.default_class.as_deref(),
        &args.set_values,
    ) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("roundup-mailgw: {home}: {e}");
            return ExitCode::from(1);
        }
    };
    let gw = Gw {
        tracker: &tracker,
        opts: &opts,
        db: std::cell::RefCell::new(None),
    };
    match args.positional.len() {
        0 | 1 => gw.pipe(),
        2 => fail("not enough source specification information"),
        _ => {
            let source = args.positional[1].as_str();
            let spec = args.positional[2].as_str();
            match source {
                "mailbox" => gw.mailbox(Path::new(spec)),
                "maildir" => gw.maildir(Path::new(spec)),
                "pop" | "pops" | "apop" | "imap" | "imaps" | "imaps_cram" | "imaps_oauth" => {
                    eprintln!(
                        "roundup-mailgw: the {source} source is not supported by this build yet; \
                         have fetchmail (or the MTA) deliver to `roundup-mailgw {home}` as a pipe, \
                         to an mbox file (`mailbox FILE`) or to a maildir (`maildir DIR`)"
                    );
                    ExitCode::from(1)
                }
                _ => fail(
                    "The source must be either \"mailbox\", \"maildir\", \"pop\", \"pops\", \"apop\", \"imap\", \"imaps\", \"imaps_cram\", or \"imaps_oauth\"",
                ),
            }
        }
    }
}

struct Gw<'a> {
    tracker: &'a Tracker,
    opts: &'a GatewayOptions,
    /// One connection for all the messages of a run (opening one per
    /// message cost a checkpoint of the SQLite WAL each time).
    db: std::cell::RefCell<Option<roundup_core::Db>>,
}

impl Gw<'_> {
    /// Handle one message; `Err` when the tracker failed (the message
    /// must then be kept by the caller).
    fn one(&self, raw: &[u8]) -> Result<Outcome, String> {
        let mut slot = self.db.borrow_mut();
        if slot.is_none() {
            *slot = Some(self.tracker.open_db("1").map_err(|e| e.to_string())?);
        }
        let db = slot.as_ref().expect("opened above");
        let otks = || {
            self.tracker
                .open_key_store(roundup_core::sessions::StoreKind::Otks)
        };
        let outcome = match handle(db, &otks, self.opts, raw) {
            Ok(o) => o,
            Err(e) => {
                // Start the next message on a fresh connection.
                *slot = None;
                return Err(e.to_string());
            }
        };
        drop(slot);
        match &outcome {
            Outcome::Applied { class, id, created } => eprintln!(
                "roundup-mailgw: {} {class}{id}",
                if *created { "created" } else { "updated" }
            ),
            Outcome::Ignored(why) => eprintln!("roundup-mailgw: message ignored ({why})"),
            Outcome::Registered(uid) => {
                eprintln!("roundup-mailgw: registration confirmed (user{uid})")
            }
            Outcome::Bounced(why) => eprintln!(
                "roundup-mailgw: message refused, the sender was told: {}",
                why.lines().next().unwrap_or("")
            ),
            Outcome::Unusable(why) => {
                let kept = self.keep(raw);
                eprintln!("roundup-mailgw: {why}; {kept}");
            }
        }
        Ok(outcome)
    }

    /// Keep a copy of a message nobody can be told about, so that it is
    /// not lost: `<db>/mailgw-unusable/<time>.eml`.
    fn keep(&self, raw: &[u8]) -> String {
        let dir: PathBuf = self.tracker.config().database_dir().join("mailgw-unusable");
        let name = format!(
            "{}-{}.eml",
            chrono::Utc::now().format("%Y%m%d%H%M%S%.6f"),
            std::process::id()
        );
        let path = dir.join(name);
        match std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&path, raw)) {
            Ok(()) => format!("kept as {}", path.display()),
            Err(e) => format!("could not keep a copy in {}: {e}", dir.display()),
        }
    }

    fn pipe(&self) -> ExitCode {
        let mut raw = Vec::new();
        if let Err(e) = std::io::stdin().read_to_end(&mut raw) {
            eprintln!("roundup-mailgw: reading the message from standard input: {e}");
            return ExitCode::from(1);
        }
        match self.one(&raw) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                // A temporary failure for the MTA: it keeps the message
                // and tries again (EX_TEMPFAIL).
                eprintln!("roundup-mailgw: {e}");
                ExitCode::from(75)
            }
        }
    }

    fn mailbox(&self, path: &Path) -> ExitCode {
        let mut mbox = match read_mbox(path) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("roundup-mailgw: {e}");
                return ExitCode::from(1);
            }
        };
        let count = mbox.len();
        let mut failed = false;
        let mut done = Vec::new();
        for i in 0..count {
            let data = mbox.messages()[i].data.clone();
            match self.one(&data) {
                Ok(_) => done.push(i),
                Err(e) => {
                    eprintln!(
                        "roundup-mailgw: {}: message {}: {e}; left in the mailbox",
                        path.display(),
                        i + 1
                    );
                    failed = true;
                    break;
                }
            }
        }
        for i in done.into_iter().rev() {
            mbox.remove(i);
        }
        if let Err(e) = mbox.close() {
            eprintln!("roundup-mailgw: {e}");
            return ExitCode::from(1);
        }
        if failed {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    }

    fn maildir(&self, dir: &Path) -> ExitCode {
        let paths = match maildir_messages(dir) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("roundup-mailgw: {e}");
                return ExitCode::from(1);
            }
        };
        for p in paths {
            let raw = match std::fs::read(&p) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("roundup-mailgw: {}: {e}", p.display());
                    return ExitCode::from(1);
                }
            };
            if let Err(e) = self.one(&raw) {
                eprintln!("roundup-mailgw: {}: {e}; left in new/", p.display());
                return ExitCode::from(1);
            }
            if let Err(e) = mark_done(&p) {
                eprintln!("roundup-mailgw: {e}");
                return ExitCode::from(1);
            }
        }
        ExitCode::SUCCESS
    }
}
