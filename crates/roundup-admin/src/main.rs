//! The `roundup-admin` program.

use std::io::BufReader;

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let input = Box::new(BufReader::new(std::io::stdin()));
    let mut admin = roundup_admin::Admin::new(input);
    let status = admin.main(&argv);
    std::process::exit(status);
}
