//! The vault's code cannot name a secret key: no source file under `src/` mentions the
//! secret-key types, the owner-side decryption, the secret import, or the secret key file.
//! (The words are assembled with `concat!` so that this file does not contain them.)

use std::path::Path;

const FORBIDDEN: [&str; 5] = [concat!("Secret", "Key"), concat!("StatsSecret", "Key"), concat!("decrypt", "or"), concat!("import_", "secret_bytes"), concat!("secret", ".key")];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap_or_else(|e| panic!("{}: {e}", dir.display())).path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_source_file_names_a_secret_key() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() >= 5, "found only {files:?}");
    let mut hits = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        for (n, line) in text.lines().enumerate() {
            for word in FORBIDDEN {
                if line.contains(word) {
                    hits.push(format!("{}:{}: {word}", f.display(), n + 1));
                }
            }
        }
    }
    assert!(hits.is_empty(), "the vault must have no path to a secret key:\n{}", hits.join("\n"));
}

#[test]
fn the_manifest_depends_on_no_owner_side_crate_feature() {
    let manifest = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap_or_default();
    for word in FORBIDDEN {
        assert!(!manifest.contains(word), "Cargo.toml names {word}");
    }
}
