//! The layers of `src/lib.rs` hold: every `crate::…` and `super::…` path in the library
//! names a module of its own layer or of one below, and no two files import each other.
//! The table is read from the crate doc, so the doc and this check cannot disagree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Imports that break the rules today, each with the change that removes it. The test
/// fails when one of them is gone (so the list shrinks) as when a new one appears.
const KNOWN: &[(&str, &str)] = &[];

/// Module path (`["proto", "radius", "packet"]`) of each library file.
fn modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    fn walk(dir: &Path, into: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, into);
            } else if path.extension().is_some_and(|e| e == "rs") {
                into.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(src, &mut files);
    let mut out = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(src).unwrap();
        let mut parts: Vec<String> = rel
            .iter()
            .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
            .collect();
        // The binaries (`main.rs`, `cli/`, `bin/`) use the library from outside.
        if matches!(parts[0].as_str(), "main" | "cli" | "bin") {
            continue;
        }
        if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
            parts.pop();
        }
        out.insert(parts, file);
    }
    out
}

/// A file as the repository names it (`src/proto/jsonp.rs`).
fn shown(file: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    file.strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string()
}

/// The layer table of the crate doc: for each top-level module, its rank (0 the top).
fn layers(lib: &str) -> BTreeMap<String, usize> {
    let table = lib
        .split("# Layers")
        .nth(1)
        .expect("src/lib.rs has a `# Layers` section");
    let mut ranks = BTreeMap::new();
    let rows = table
        .lines()
        .map(|l| l.trim_start_matches("//!").trim())
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2);
    for (rank, row) in rows.enumerate() {
        let modules = row.split('|').nth(2).expect("a modules column");
        for m in modules.split(',') {
            ranks.insert(m.trim().trim_matches('`').to_string(), rank);
        }
    }
    ranks
}

/// Every module path a file names with `crate::` or `super::`, resolved against the
/// known modules (the longest prefix that is one), with the line it is on. Comments do
/// not count.
fn imports(
    own: &[String],
    text: &str,
    known: &BTreeMap<Vec<String>, PathBuf>,
) -> Vec<(Vec<String>, usize)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        for (start, _) in code
            .match_indices("crate::")
            .chain(code.match_indices("super::"))
        {
            let before = code[..start].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let path: Vec<&str> = code[start..]
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or("")
                .split("::")
                .filter(|s| !s.is_empty())
                .collect();
            let mut base: Vec<String> = Vec::new();
            let mut rest = path.as_slice();
            if rest.first() == Some(&"crate") {
                rest = &rest[1..];
            } else {
                // `super` is the parent of this module (of the module itself for mod.rs
                // files: `own` is already their directory's path).
                base = own.to_vec();
                while rest.first() == Some(&"super") {
                    base.pop();
                    rest = &rest[1..];
                }
            }
            let mut target = base.clone();
            let mut resolved = None;
            for part in rest {
                target.push(part.to_string());
                if known.contains_key(&target) {
                    resolved = Some(target.clone());
                }
            }
            if let Some(t) = resolved.or_else(|| known.contains_key(&base).then_some(base)) {
                if !t.is_empty() && t.as_slice() != own {
                    out.push((t, n + 1));
                }
            }
        }
    }
    out
}

#[test]
fn no_import_runs_up_a_layer_and_no_two_files_import_each_other() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let known = modules(&src);
    let ranks = layers(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    let mut broken = Vec::new();
    let mut crossings: BTreeSet<(String, String)> = BTreeSet::new();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (own, file) in &known {
        let Some(top) = own.first() else { continue };
        let Some(&rank) = ranks.get(top) else {
            broken.push(format!("{}: module `{top}` is in no layer", shown(file)));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (target, line) in imports(own, &text, &known) {
            edges.entry(own.clone()).or_default().insert(target.clone());
            let to = &target[0];
            let Some(&to_rank) = ranks.get(to) else {
                continue;
            };
            if to_rank < rank {
                let pair = (top.clone(), to.clone());
                if !KNOWN.contains(&(top.as_str(), to.as_str())) {
                    broken.push(format!(
                        "{}:{line}: `{top}` imports `{}`, a layer above it",
                        shown(file),
                        target.join("::")
                    ));
                }
                crossings.insert(pair);
            }
        }
    }
    for (a, targets) in &edges {
        for b in targets {
            let ancestor =
                b.len() < a.len() && a.starts_with(b) || a.len() < b.len() && b.starts_with(a);
            if a < b && !ancestor && edges.get(b).is_some_and(|t| t.contains(a)) {
                broken.push(format!(
                    "{} and {} import each other",
                    shown(&known[a]),
                    shown(&known[b])
                ));
            }
        }
    }
    for (from, to) in KNOWN {
        if !crossings.contains(&(from.to_string(), to.to_string())) {
            broken.push(format!(
                "`{from}` no longer imports `{to}`: take it off the known list"
            ));
        }
    }
    assert!(broken.is_empty(), "\n{}", broken.join("\n"));
}
