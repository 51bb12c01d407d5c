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
    limit_malloc_arenas();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let input = Box::new(BufReader::new(std::io::stdin()));
    let mut admin = roundup_admin::Admin::new(input);
    let status = admin.main(&argv);
    std::process::exit(status);
}

/// An import runs a reader, a placer with six workers, the database
/// thread and a file writer at once; glibc's malloc gives each thread an
/// arena of its own (up to eight per core) and keeps what a thread freed
/// in it, which at a million issues was ~50 MB of the import's peak.
/// Two arenas are enough for threads that mostly hand data on.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a malloc tunable; called at start-up
    // before any thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
