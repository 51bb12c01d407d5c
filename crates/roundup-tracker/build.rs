// The tracker templates are embedded with include_dir!, which tracks the
// files it embedded but not files added later: rebuild when anything
// under templates/ changes.
fn main() {
    println!("cargo:rerun-if-changed=templates");
}
