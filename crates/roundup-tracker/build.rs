// Rebuild when the embedded templates change: include_dir! alone does not
// make cargo watch the directory.
fn main() {
    println!("cargo:rerun-if-changed=templates");
}
