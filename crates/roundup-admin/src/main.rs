//! The `roundup-admin` program.

use std::io::BufReader;

fn main() {
    // Like other Unix tools, end quietly when the reader of our output goes
    // away (`roundup-admin ... | head`) instead of failing on every write.
    // SAFETY: restoring the default disposition of SIGPIPE at start-up,
    // before any threads exist, has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let input = Box::new(BufReader::new(std::io::stdin()));
    let mut admin = roundup_admin::Admin::new(input);
    let status = admin.main(&argv);
    std::process::exit(status);
}
