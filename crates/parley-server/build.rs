//! Embeds the web pages: writes `$OUT_DIR/web_assets.rs`, a table of every
//! file under `web/` (the admin UI, the demo app, the SDK's compiled
//! modules) as `(path, include_bytes!(file))`, so the binary serves them
//! with no files at run time and a new page needs no hand-kept list.

use std::path::{Path, PathBuf};

fn main() {
    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("web");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    collect(&root, &mut files);
    // Sorted by the served path, as the server looks paths up by binary
    // search (component order differs: "a/b" before "a-b").
    let mut table_rows: Vec<(String, PathBuf)> = files
        .into_iter()
        .map(|file| {
            let relative = file
                .strip_prefix(&root)
                .expect("collected under the root")
                .to_str()
                .expect("web file names are UTF-8")
                .replace('\\', "/");
            (format!("/{relative}"), file)
        })
        .collect();
    table_rows.sort();
    let mut table = String::from("&[\n");
    for (path, file) in &table_rows {
        println!("cargo:rerun-if-changed={}", file.display());
        table.push_str(&format!(
            "    ({path:?}, include_bytes!({:?}).as_slice()),\n",
            file.display().to_string()
        ));
    }
    table.push_str("]\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("web_assets.rs");
    std::fs::write(out, table).expect("OUT_DIR is writable");
}

/// Every file under `dir`, directories included recursively; each directory
/// is also watched, so an added file rebuilds the table.
fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|error| panic!("{}: {error}", dir.display()));
    for entry in entries {
        let path = entry.expect("a readable directory entry").path();
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}
