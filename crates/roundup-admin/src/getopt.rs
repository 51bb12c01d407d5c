//! Global option parsing with POSIX getopt rules.
//!
//! Roundup's admin tool reads its options with Python's `getopt` and the
//! spec `i:u:hcdP:sS:vV`: options come first, may be clustered (`-cd`),
//! an option's argument may be attached (`-iT`) or be the next word, `--`
//! ends the options, and the first word that is not an option starts the
//! command. A general argument parser (clap) would also accept options after
//! the command and report errors in its own format, so this small parser
//! keeps the exact getopt behaviour instead.

/// Option letters; a trailing `:` marks an option that takes an argument.
const SPEC: &str = "i:u:hcdP:sS:vV";

/// The options in the order given, and the words after them.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed {
    pub opts: Vec<(char, Option<String>)>,
    pub args: Vec<String>,
}

fn takes_arg(c: char) -> Option<bool> {
    let mut chars = SPEC.chars().peekable();
    while let Some(x) = chars.next() {
        let has = chars.peek() == Some(&':');
        if has {
            chars.next();
        }
        if x == c {
            return Some(has);
        }
    }
    None
}

/// Split `argv` (without the program name) into options and arguments.
/// The error text follows getopt's messages (`option -x not recognized`,
/// `option -S requires argument`).
pub fn parse(argv: &[String]) -> Result<Parsed, String> {
    let mut opts = Vec::new();
    let mut i = 0;
    while i < argv.len() {
        let word = &argv[i];
        if word == "--" {
            i += 1;
            break;
        }
        if !word.starts_with('-') || word == "-" {
            break;
        }
        if let Some(long) = word.strip_prefix("--") {
            let name = long.split('=').next().unwrap_or("");
            return Err(format!("option --{name} not recognized"));
        }
        let letters: Vec<char> = word[1..].chars().collect();
        let mut j = 0;
        while j < letters.len() {
            let c = letters[j];
            match takes_arg(c) {
                None => return Err(format!("option -{c} not recognized")),
                Some(false) => {
                    opts.push((c, None));
                    j += 1;
                }
                Some(true) => {
                    let rest: String = letters[j + 1..].iter().collect();
                    if !rest.is_empty() {
                        opts.push((c, Some(rest)));
                    } else if i + 1 < argv.len() {
                        i += 1;
                        opts.push((c, Some(argv[i].clone())));
                    } else {
                        return Err(format!("option -{c} requires argument"));
                    }
                    break;
                }
            }
        }
        i += 1;
    }
    Ok(Parsed {
        opts,
        args: argv[i..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn clustered_and_attached() {
        let p = parse(&v(&["-cdiT", "-u", "demo:pw", "list", "-c", "x"])).unwrap();
        assert_eq!(
            p.opts,
            vec![
                ('c', None),
                ('d', None),
                ('i', Some("T".into())),
                ('u', Some("demo:pw".into()))
            ]
        );
        assert_eq!(p.args, v(&["list", "-c", "x"]));
    }

    #[test]
    fn errors_use_getopt_wording() {
        assert_eq!(parse(&v(&["-x"])).unwrap_err(), "option -x not recognized");
        assert_eq!(
            parse(&v(&["-S"])).unwrap_err(),
            "option -S requires argument"
        );
        assert_eq!(
            parse(&v(&["--long"])).unwrap_err(),
            "option --long not recognized"
        );
    }

    #[test]
    fn double_dash_ends_options() {
        let p = parse(&v(&["-s", "--", "-c"])).unwrap();
        assert_eq!(p.opts, vec![('s', None)]);
        assert_eq!(p.args, v(&["-c"]));
    }
}
