//! The `roundup` package's Python sources are compiled into the binary by
//! `py_freeze!`; rebuild when they change.
fn main() {
    println!("cargo:rerun-if-changed=python");
    println!("cargo:rerun-if-changed=python-sandbox");
}
