//! `roundup-admin`: administer a Roundup tracker from the command line.
//!
//! The tool reads getopt-style global options ([`getopt`]), then runs one
//! command from the table in [`commands`] (unique prefixes select a
//! command). Commands that need the database open it as the `-u` user (or
//! `ROUNDUP_LOGIN`, default `admin`); after the command the transaction is
//! committed, as Roundup does for one-off commands, even when the command
//! reported an error part way through.
//!
//! Output goes to standard output in the exact forms Roundup 2.6 prints,
//! so scripts written against Roundup keep working.
//!
//! Without a command the interactive shell ([`shell`]) starts; there
//! changes wait for `commit`. `export`/`import` ([`transfer`]) read and
//! write Roundup's export format, so data moves between Roundup 2.6 and
//! this implementation in both directions.

pub mod commands;
pub mod csvio;
mod file_writer;
pub mod format;
pub mod getopt;
pub mod maint;
pub mod pragma;
pub mod shell;
pub mod transfer;

use std::io::{self, BufRead, Write};
use std::path::Path;

use roundup_core::Db;
use roundup_tracker::Tracker;

use commands::{find_command, Command, Scope};
use pragma::Settings;

/// How a command failed.
#[derive(Debug)]
pub enum CmdError {
    /// Bad input: printed as `Error: ...` followed by the command's help,
    /// exit status 1 (Roundup's UsageError).
    Usage(String),
    /// Any other failure: one `Error: ...` line, exit status 1.
    Failed(String),
}

impl CmdError {
    pub fn usage(msg: impl std::fmt::Display) -> CmdError {
        CmdError::Usage(msg.to_string())
    }
    pub fn failed(msg: impl std::fmt::Display) -> CmdError {
        CmdError::Failed(msg.to_string())
    }
}

/// Line editing keys of the interactive shell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EditMode {
    Emacs,
    Vi,
}

/// Commands whose success leaves changes waiting for `commit`.
const WRITING_COMMANDS: &[&str] = &[
    "create",
    "set",
    "retire",
    "restore",
    "import",
    "importtables",
    "pack",
];

/// A command's outcome: its exit status, or an error.
pub type CmdResult = Result<i32, CmdError>;

/// The state of one roundup-admin run.
pub struct Admin {
    /// Tracker home (`-i`, `TRACKER_HOME`); empty when not given.
    pub tracker_home: String,
    /// Login name for the database connection.
    pub user: String,
    /// `-c`, `-s`, `-S`: separator for list output.
    pub separator: Option<String>,
    /// `-d`: print designators instead of bare ids.
    pub print_designator: bool,
    /// `-V`.
    pub verbose: bool,
    /// Pragmas (`-P`, `pragma`).
    pub settings: Settings,
    /// Answer prompts with their defaults (never set from the command
    /// line; kept for the interactive shell and tests).
    pub force: bool,
    /// Whether changes are waiting for `commit` (the shell asks at exit).
    pub uncommitted: bool,
    /// Database layout version before this run opened the database, and
    /// the current one (for `migrate`).
    pub layout_before: Option<(Option<i64>, i64)>,
    /// Editing mode chosen with `readline vi|emacs` (shell only).
    pub edit_mode: Option<EditMode>,
    /// Lines entered in the shell, oldest first (with the saved history).
    pub history: Vec<String>,
    tracker: Option<Tracker>,
    db: Option<Db>,
    input: Box<dyn BufRead>,
}

impl Admin {
    /// A fresh tool reading prompt answers from `input`.
    pub fn new(input: Box<dyn BufRead>) -> Admin {
        Admin {
            tracker_home: String::new(),
            user: "admin".to_string(),
            separator: None,
            print_designator: false,
            verbose: false,
            settings: Settings::default(),
            force: false,
            uncommitted: false,
            layout_before: None,
            edit_mode: None,
            history: Vec::new(),
            tracker: None,
            db: None,
            input,
        }
    }

    /// The open database (commands of scope [`Scope::Db`] always have one).
    pub fn db(&self) -> Result<&Db, CmdError> {
        self.db
            .as_ref()
            .ok_or_else(|| CmdError::failed("the tracker database is not open"))
    }

    /// Whether a database connection is open.
    pub fn has_db(&self) -> bool {
        self.db.is_some()
    }

    /// The opened tracker.
    pub fn tracker(&self) -> Result<&Tracker, CmdError> {
        self.tracker
            .as_ref()
            .ok_or_else(|| CmdError::failed("no tracker is open"))
    }

    /// Print `prompt` and read one line of the answer (without its line
    /// end). End of input is an error.
    pub fn ask(&mut self, prompt: &str) -> Result<String, CmdError> {
        print!("{prompt}");
        let _ = io::stdout().flush();
        let mut line = String::new();
        match self.input.read_line(&mut line) {
            Ok(0) => Err(CmdError::failed("end of input while waiting for an answer")),
            Ok(_) => {
                while line.ends_with('\n') || line.ends_with('\r') {
                    line.pop();
                }
                Ok(line)
            }
            Err(e) => Err(CmdError::failed(format!("reading standard input: {e}"))),
        }
    }

    /// Ask for a secret without echoing it when there is a terminal;
    /// otherwise read a line from standard input.
    pub fn ask_secret(&mut self, prompt: &str) -> Result<String, CmdError> {
        match rpassword::prompt_password(prompt) {
            Ok(s) => Ok(s),
            Err(_) => self.ask(prompt),
        }
    }

    /// Run the whole program for `argv` (without the program name);
    /// returns the exit status.
    pub fn main(&mut self, argv: &[String]) -> i32 {
        let parsed = match getopt::parse(argv) {
            Ok(p) => p,
            Err(e) => {
                commands::usage(Some(&e));
                return 1;
            }
        };
        self.tracker_home = std::env::var("TRACKER_HOME").unwrap_or_default();
        if let Ok(login) = std::env::var("ROUNDUP_LOGIN") {
            self.user = login.split(':').next().unwrap_or("").to_string();
        }
        for (opt, arg) in parsed.opts {
            let arg = arg.unwrap_or_default();
            match opt {
                'h' => {
                    commands::usage(None);
                    return 0;
                }
                'v' => {
                    println!(
                        "{} (roundup-admin in Rust, Roundup 2.6 compatible)",
                        env!("CARGO_PKG_VERSION")
                    );
                    return 0;
                }
                'V' => self.verbose = true,
                'i' => self.tracker_home = arg,
                'c' | 'S' | 's' => {
                    if self.separator.is_some() {
                        commands::usage(Some("Only one of -c, -S and -s may be specified"));
                        return 1;
                    }
                    self.separator = Some(match opt {
                        'c' => ",".to_string(),
                        's' => " ".to_string(),
                        _ => arg,
                    });
                }
                'd' => self.print_designator = true,
                'P' => {
                    if let Err(e) = self.settings.apply(&arg) {
                        println!("\n{e}\n");
                    }
                }
                'u' => self.user = arg.split(':').next().unwrap_or("").to_string(),
                _ => {}
            }
        }
        if parsed.args.is_empty() {
            let status = shell::run(self);
            let _ = io::stdout().flush();
            return status;
        }
        let status = self.run_command(&parsed.args);
        let status = match self.finish() {
            Ok(()) => status,
            Err(e) => {
                println!("Error: {e}");
                1
            }
        };
        let _ = io::stdout().flush();
        status
    }

    /// Commit whatever the command left in the transaction.
    fn finish(&mut self) -> Result<(), String> {
        if let Some(db) = &self.db {
            db.commit()
                .map_err(|e| format!("committing the changes failed: {e}"))?;
        }
        Ok(())
    }

    /// Run one command line (`args[0]` is the command or a unique prefix
    /// of one); returns its exit status.
    pub fn run_command(&mut self, args: &[String]) -> i32 {
        let Some(name) = args.first() else {
            return 0;
        };
        if name == "help" {
            commands::help(&args[1..]);
            return 0;
        }
        let cmd = match find_command(name) {
            Ok(c) => c,
            Err(matches) if matches.is_empty() => {
                println!("Unknown command \"{name}\" (\"help commands\" for a list)");
                return 1;
            }
            Err(matches) => {
                let names: Vec<&str> = matches.iter().map(|c| c.name).collect();
                println!("Multiple commands match \"{name}\": {}", names.join(", "));
                return 1;
            }
        };
        let rest = &args[1..];
        if cmd.scope != Scope::NoTracker {
            while self.tracker_home.is_empty() {
                match self.ask("Enter tracker home: ") {
                    Ok(h) => self.tracker_home = h.trim().to_string(),
                    Err(e) => return self.report(cmd, e),
                }
            }
        }
        if cmd.scope == Scope::Db {
            if let Err(code) = self.open() {
                return code;
            }
        }
        match (cmd.run)(self, rest) {
            Ok(code) => {
                match cmd.name {
                    "commit" | "rollback" => self.uncommitted = false,
                    n if WRITING_COMMANDS.contains(&n) => self.uncommitted = true,
                    _ => {}
                }
                code
            }
            Err(e) => self.report(cmd, e),
        }
    }

    fn report(&self, cmd: &Command, e: CmdError) -> i32 {
        match e {
            CmdError::Usage(msg) => {
                println!("\nError: {msg}\n");
                commands::print_command_help(cmd);
            }
            CmdError::Failed(msg) => println!("Error: {msg}"),
        }
        1
    }

    /// Open the tracker and its database (once).
    fn open(&mut self) -> Result<(), i32> {
        if self.tracker.is_none() || self.settings.reopen_tracker {
            if self.settings.verbose {
                println!("Reopening tracker");
            }
            match Tracker::open(Path::new(&self.tracker_home)) {
                Ok(t) => {
                    self.settings.indexer_backend =
                        t.config().get_str("main", "indexer").unwrap_or_default();
                    self.tracker = Some(t);
                }
                Err(e) => {
                    self.tracker_home.clear();
                    println!("Error: Couldn't open tracker: {e}");
                    return Err(1);
                }
            }
        }
        if self.db.is_none() {
            let Some(tracker) = &self.tracker else {
                return Err(1);
            };
            if self.layout_before.is_none() {
                self.layout_before = tracker.layout_versions().ok();
            }
            match tracker.open_db_as(&self.user) {
                Ok(db) => self.db = Some(db),
                Err(e) => {
                    println!(
                        "Error: Couldn't open the database as user \"{}\": {e}",
                        self.user
                    );
                    return Err(1);
                }
            }
        }
        // Every command's changes come from the command line, as
        // Roundup's run_command says before each one.
        if let Some(db) = &self.db {
            db.set_tx_source(Some(roundup_core::TxSource::Cli));
        }
        Ok(())
    }
}
