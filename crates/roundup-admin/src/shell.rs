//! The interactive shell (`roundup-admin -i HOME` without a command).
//!
//! On a terminal, lines are read with rustyline: line editing (emacs
//! keys by default, vi after `readline vi` or `set editing-mode vi` in
//! `~/.roundup_admin_rlrc`) and a history kept in
//! `~/.roundup_admin_history`, the files Roundup's shell uses. Without a
//! terminal the prompt is written to standard output and lines are read
//! from standard input, so the shell can be driven through a pipe.
//!
//! Changes are not committed until `commit`; leaving with `exit`, `quit`,
//! `q` or end of input asks whether to commit what is still pending.
//! `!N` runs the N-th line of the history again and `!N:p` shows it
//! (on a terminal: puts it on the edit line) without running it.
//!
//! The `history_features` pragma switches parts off as Roundup's does:
//! 1 = do not load the history, 2 = do not save it, 4 = do not read the
//! init file.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use rustyline::config::Configurer;
use rustyline::error::ReadlineError;
use rustyline::history::{FileHistory, History};
use rustyline::DefaultEditor;

use crate::{Admin, EditMode};

const PROMPT: &str = "roundup> ";

fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `~/.roundup_admin_rlrc`.
pub fn init_file() -> PathBuf {
    home_dir().join(".roundup_admin_rlrc")
}

/// `~/.roundup_admin_history`.
pub fn history_file() -> PathBuf {
    home_dir().join(".roundup_admin_history")
}

/// What one line of a readline init file asks for: an editing mode, or
/// nothing this editor acts on (comments, blank lines). Settings it
/// cannot honour are an error naming them.
pub fn parse_init_line(line: &str) -> Result<Option<EditMode>, String> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') {
        return Ok(None);
    }
    let words: Vec<&str> = t.split_whitespace().collect();
    match words.as_slice() {
        ["set", "editing-mode", "vi"] => Ok(Some(EditMode::Vi)),
        ["set", "editing-mode", "emacs"] => Ok(Some(EditMode::Emacs)),
        _ => Err(format!(
            "this line editor only understands \"set editing-mode vi|emacs\", not \"{t}\""
        )),
    }
}

/// Read an init file: `None` when it does not exist, else the last
/// editing mode it sets (other settings are skipped).
pub fn read_init_file(path: &Path) -> Option<Option<EditMode>> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut mode = None;
    for line in text.lines() {
        if let Ok(Some(m)) = parse_init_line(line) {
            mode = Some(m);
        }
    }
    Some(mode)
}

/// Split a shell line into words: blanks separate, single and double
/// quotes group, a backslash escapes the next character. `None` when a
/// quote is left open.
pub fn split_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' | '"' => {
                in_word = true;
                let mut closed = false;
                while let Some(q) = chars.next() {
                    if q == c {
                        closed = true;
                        break;
                    }
                    if q == '\\' && c == '"' {
                        if let Some(n) = chars.next() {
                            cur.push(n);
                        }
                        continue;
                    }
                    cur.push(q);
                }
                if !closed {
                    return None;
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            other => {
                in_word = true;
                cur.push(other);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Some(words)
}

enum Input {
    Editor(Box<DefaultEditor>),
    /// Lines from a pipe; the history is kept here to be saved.
    Plain(Box<FileHistory>),
}

impl Input {
    /// One line; `None` at the end of input.
    fn read(&mut self, admin: &mut Admin, initial: Option<&str>) -> Option<String> {
        match self {
            Input::Editor(ed) => loop {
                let r = match initial {
                    Some(text) => ed.readline_with_initial(PROMPT, (text, "")),
                    None => ed.readline(PROMPT),
                };
                match r {
                    Ok(line) => return Some(line),
                    Err(ReadlineError::Interrupted) => continue,
                    Err(_) => return None,
                }
            },
            Input::Plain(_) => admin.ask(PROMPT).ok(),
        }
    }
}

fn apply_mode(input: &mut Input, mode: Option<EditMode>) {
    if let (Input::Editor(ed), Some(m)) = (input, mode) {
        ed.set_edit_mode(match m {
            EditMode::Vi => rustyline::EditMode::Vi,
            EditMode::Emacs => rustyline::EditMode::Emacs,
        });
    }
}

fn plain_input(admin: &mut Admin, load_history: bool) -> Input {
    let mut h = FileHistory::new();
    if admin.settings.history_length >= 0 {
        let _ = h.set_max_len(admin.settings.history_length as usize);
    }
    if load_history {
        let _ = h.load(&history_file());
        admin.history = h.iter().cloned().collect();
    }
    Input::Plain(Box::new(h))
}

/// Run the shell until the user leaves; returns the exit status.
pub fn run(admin: &mut Admin) -> i32 {
    println!(
        "Roundup {} (roundup-admin in Rust) ready for input.\nType \"help\" for help.",
        env!("CARGO_PKG_VERSION")
    );
    let features = admin.settings.history_features;
    let load_history = features & 1 == 0;
    let save_history = features & 2 == 0;
    let load_rc = features & 4 == 0;
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let mut input = if tty {
        match DefaultEditor::new() {
            Ok(mut ed) => {
                if admin.settings.history_length >= 0 {
                    let _ = ed.set_max_history_size(admin.settings.history_length as usize);
                }
                if load_history {
                    let _ = ed.load_history(&history_file());
                    admin.history = ed.history().iter().cloned().collect();
                }
                println!("Readline enabled using rustyline.");
                Input::Editor(Box::new(ed))
            }
            Err(_) => {
                println!("Command history and line editing not available");
                plain_input(admin, load_history)
            }
        }
    } else {
        println!("Line editing is off: standard input is not a terminal.");
        plain_input(admin, load_history)
    };
    if load_rc {
        if let Some(mode) = read_init_file(&init_file()) {
            admin.edit_mode = mode.or(admin.edit_mode);
        }
    }
    apply_mode(&mut input, admin.edit_mode);

    let mut prefill: Option<String> = None;
    loop {
        let _ = std::io::stdout().flush();
        let line = input.read(admin, prefill.as_deref());
        prefill = None;
        let Some(mut line) = line else {
            println!("exit...");
            break;
        };
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.trim().strip_prefix('!') {
            let (num, print_only) = match rest.strip_suffix(":p") {
                Some(n) => (n, true),
                None => (rest, false),
            };
            if let Ok(n) = num.parse::<usize>() {
                match n.checked_sub(1).and_then(|i| admin.history.get(i)) {
                    Some(h) => {
                        let h = h.clone();
                        if print_only {
                            match input {
                                Input::Editor(_) => prefill = Some(h),
                                Input::Plain(_) => println!("{h}"),
                            }
                            continue;
                        }
                        line = h;
                    }
                    None => {
                        println!("There is no line {n} in the history.");
                        continue;
                    }
                }
            }
        }
        admin.history.push(line.clone());
        match &mut input {
            Input::Editor(ed) => {
                let _ = ed.add_history_entry(line.as_str());
            }
            Input::Plain(h) => {
                let _ = h.add(line.as_str());
            }
        }
        let Some(args) = split_words(&line) else {
            println!("Unbalanced quotes; the line was not run.");
            continue;
        };
        if args.is_empty() {
            continue;
        }
        if args.len() == 1 && matches!(args[0].as_str(), "q" | "quit" | "exit") {
            break;
        }
        let before = admin.edit_mode;
        admin.run_command(&args);
        if admin.edit_mode != before {
            apply_mode(&mut input, admin.edit_mode);
        }
    }

    let mut status = 0;
    if admin.has_db() && admin.uncommitted {
        match admin.ask("There are unsaved changes. Commit them (y/N)? ") {
            Ok(answer) if answer.trim().to_lowercase().starts_with('y') => {
                admin.run_command(&["commit".to_string()]);
            }
            Ok(_) => {
                admin.run_command(&["rollback".to_string()]);
            }
            Err(_) => {
                println!("\nError: end of input before an answer; the changes were not committed");
                admin.run_command(&["rollback".to_string()]);
                status = 1;
            }
        }
    }
    if save_history {
        let _ = match &mut input {
            Input::Editor(ed) => ed.save_history(&history_file()),
            Input::Plain(h) => h.save(&history_file()),
        };
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_quotes() {
        assert_eq!(
            split_words("set issue1 'title=a b' \"x \\\"y\\\"\" c\\ d").unwrap(),
            vec!["set", "issue1", "title=a b", "x \"y\"", "c d"]
        );
        assert_eq!(split_words("  ").unwrap(), Vec::<String>::new());
        assert!(split_words("set 'open").is_none());
    }

    #[test]
    fn init_lines() {
        assert_eq!(
            parse_init_line("set editing-mode vi").unwrap(),
            Some(EditMode::Vi)
        );
        assert_eq!(parse_init_line("# comment").unwrap(), None);
        assert!(parse_init_line("Control-o: dump-variables").is_err());
    }
}
