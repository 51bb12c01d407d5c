//! Every page template of Roundup 2.6's four TAL templates, as Roundup
//! 2.6 installed them on this machine, compiles.

use std::path::Path;

use roundup_testkit::Roundup26;

#[test]
fn roundup26_stock_templates_compile() {
    let Some(_r) = Roundup26::find() else { return };
    let root = Path::new("/opt/rvenv/share/roundup/templates");
    let mut compiled = 0;
    let mut failures = Vec::new();
    for template in ["classic", "minimal", "devel", "responsive"] {
        let dir = root.join(template).join("html");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "html" || x == "xml"))
            .collect();
        files.sort();
        for f in files {
            let src = std::fs::read_to_string(&f).unwrap();
            let name = format!("{template}/{}", f.file_name().unwrap().to_string_lossy());
            match roundup_tal::compile(&name, &src) {
                Ok(_) => compiled += 1,
                Err(e) => failures.push(e.to_string()),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(compiled >= 120, "only {compiled} templates found");
}
