//! The top-level modules form no import cycle: each may use the ones
//! below it, never one that (directly or not) uses it back, so a module
//! can be read, tested and changed with only what is under it in mind
//! (README, "Code layout"). This reads every `crate::<module>` path in
//! the source (comments left out, so doc links do not count) and fails
//! naming the edges of any cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).expect("read src/");
    for e in entries {
        let path = e.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module names a source text refers to as `crate::name`,
/// including each name of a `crate::{a, b::c}` group.
fn referenced(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // Names at the group's top level: after `{` and each `,`.
                let mut depth = 0usize;
                let mut start = true;
                for (j, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => start = true,
                        c if start && !c.is_whitespace() => {
                            start = false;
                            names.insert(ident(&group[j..]));
                        }
                        _ => {}
                    }
                }
            } else {
                names.insert(ident(rest));
            }
        }
    }
    names
}

/// Module -> the other top-level modules its files refer to.
fn import_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let module_of = |p: &Path| -> Option<String> {
        let first = p.strip_prefix(src).ok()?.components().next()?;
        let name = first.as_os_str().to_str()?;
        Some(name.strip_suffix(".rs").unwrap_or(name).to_string())
    };
    let modules: BTreeSet<String> = files.iter().filter_map(|p| module_of(p)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let Some(m) = module_of(f) else { continue };
        let text = std::fs::read_to_string(f).expect("read source file");
        let deps = graph.entry(m.clone()).or_default();
        for n in referenced(&text) {
            if n != m && modules.contains(&n) {
                deps.insert(n);
            }
        }
    }
    graph
}

/// The edges `a -> b` where `b` also reaches `a`: every edge on a cycle.
fn cycle_edges(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<(String, String)> {
    let reaches = |from: &str, to: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_string()];
        while let Some(x) = stack.pop() {
            if x == to {
                return true;
            }
            for y in graph.get(&x).into_iter().flatten() {
                if seen.insert(y.clone()) {
                    stack.push(y.clone());
                }
            }
        }
        false
    };
    let mut out = Vec::new();
    for (a, deps) in graph {
        for b in deps {
            if reaches(b, a) {
                out.push((a.clone(), b.clone()));
            }
        }
    }
    out
}

#[test]
fn top_level_modules_import_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = import_graph(&src);
    assert!(graph.contains_key("pipeline") && graph.contains_key("wire"));
    let cycles = cycle_edges(&graph);
    assert!(
        cycles.is_empty(),
        "import cycles between top-level modules of src/ (each edge lies on one): {cycles:?}"
    );
}

#[test]
fn groups_and_comments_are_read_as_intended() {
    let text = "use crate::{metrics::Metrics, wire::{quick, Reject}};\n\
                // crate::server in a comment\n\
                let x = crate::policy::Policy::new(); // crate::app\n";
    let names: Vec<String> = referenced(text).into_iter().collect();
    assert_eq!(names, ["metrics", "policy", "wire"]);
    let mut g = BTreeMap::new();
    g.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    g.insert("b".to_string(), BTreeSet::from(["c".to_string()]));
    g.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    g.insert("d".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(cycle_edges(&g).len(), 3);
}
