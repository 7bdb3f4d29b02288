//! The crate's layers import only downward: the IR (`src/ir/`) names nothing of wgpu or the
//! backend (`src/backend/`), the CPU reference nothing of the backend, and no import cycle
//! joins the modules of `src/`.
//!
//! How it reads the code: every `.rs` file under `src/` (outside `bin/`) is a module; its
//! comments and `#[cfg(test)]` module are dropped; each `use` path (brace groups expanded,
//! `crate::`, `super::`, `self::` and child-relative) and each inline `crate::…` path is
//! resolved to the deepest module it names. A `pub use` counts as any other: a directory whose
//! `mod.rs` re-exports its children must not hold what they import (that lives in a sibling).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file relative to `src/` (`ir::graph`, `kernels` for kernels/mod.rs, ""
/// for lib.rs).
fn module_of(relative: &Path) -> String {
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts.join("::")
}

/// The code of a file without comments and without its test module.
fn code(source: &str) -> String {
    let source = match source.find("#[cfg(test)]\nmod tests") {
        Some(k) => &source[..k],
        None => source,
    };
    let mut out = String::new();
    for line in source.lines() {
        // Strings in this crate never hold "//", so a line's comment starts at its first one.
        let code = match line.find("//") {
            Some(k) => &line[..k],
            None => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    let mut clean = String::new();
    let mut rest = out.as_str();
    while let Some(k) = rest.find("/*") {
        clean.push_str(&rest[..k]);
        rest = rest[k..].find("*/").map_or("", |e| &rest[k + e + 2..]);
    }
    clean.push_str(rest);
    clean
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand(tree: &str) -> Vec<String> {
    let Some(open) = tree.find('{') else { return vec![tree.to_string()] };
    let (prefix, body) = (&tree[..open], &tree[open + 1..tree.len() - 1]);
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (k, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&body[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    items.push(&body[start..]);
    items.into_iter().map(str::trim).filter(|i| !i.is_empty()).flat_map(|i| expand(&format!("{prefix}{i}"))).collect()
}

fn resolve(modules: &BTreeSet<String>, path: &[&str]) -> Option<String> {
    (1..=path.len()).rev().map(|n| path[..n].join("::")).find(|m| modules.contains(m))
}

/// Every module of `src/` and the modules it imports.
fn module_graph() -> (Graph, BTreeMap<String, String>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut sources = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src/").to_path_buf();
        if relative.starts_with("bin") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("a readable file");
        sources
            .insert(module_of(&relative), (code(&text), relative.ends_with("mod.rs") || relative.ends_with("lib.rs")));
    }
    let modules: BTreeSet<String> = sources.keys().cloned().collect();
    let mut graph = Graph::new();
    for (module, (code, is_dir)) in &sources {
        let here: Vec<&str> = if module.is_empty() { vec![] } else { module.split("::").collect() };
        // A file module's `super` is its parent; a mod.rs's is its directory's parent.
        let parent = &here[..here.len().saturating_sub(1)];
        let mut deps = BTreeSet::new();
        let compact: String = code.split_whitespace().collect::<Vec<_>>().join(" ");
        for statement in compact.split(';') {
            let statement = statement.trim();
            let Some(k) = statement.find("use ").filter(|&k| k == 0 || statement[..k].ends_with(' ')) else {
                continue;
            };
            let tree = &statement[k + 4..];
            let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
            for item in expand(&tree) {
                let item = item.split(" as ").next().unwrap_or_default();
                let segments: Vec<&str> = item.split("::").collect();
                let mut path: Vec<&str> = match segments[0] {
                    "crate" => vec![],
                    "super" => parent.to_vec(),
                    "self" => here.clone(),
                    first if *is_dir && modules.contains(&[here.as_slice(), &[first]].concat().join("::")) => {
                        here.clone()
                    }
                    _ => continue,
                };
                let skip = usize::from(matches!(segments[0], "crate" | "super" | "self"));
                path.extend(&segments[skip..]);
                if let Some(target) = resolve(&modules, &path).filter(|t| t != module) {
                    deps.insert(target);
                }
            }
        }
        for (k, _) in code.match_indices("crate::") {
            let tail: String =
                code[k + 7..].chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
            let path: Vec<&str> = tail.split("::").filter(|s| !s.is_empty()).collect();
            if let Some(target) = resolve(&modules, &path).filter(|t| t != module) {
                deps.insert(target);
            }
        }
        graph.insert(module.clone(), deps);
    }
    let code = sources.into_iter().map(|(m, (c, _))| (m, c)).collect();
    (graph, code)
}

/// The strongly connected components of more than one module (Tarjan's algorithm).
fn cycles(graph: &Graph) -> Vec<BTreeSet<String>> {
    struct State<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        for w in &s.graph[v] {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.stack.contains(&w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                component.insert(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                s.found.push(component);
            }
        }
    }
    let mut state = State { graph, index: BTreeMap::new(), low: BTreeMap::new(), stack: vec![], found: vec![] };
    for v in graph.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.found
}

#[test]
fn the_ir_names_nothing_of_wgpu_or_the_backend() {
    let (graph, code) = module_graph();
    let backend = ["backend", "tensor"];
    let mut offences = Vec::new();
    for (module, deps) in graph.iter().filter(|(m, _)| m.starts_with("ir")) {
        for dep in deps {
            if !(dep.starts_with("ir") || dep == "error") {
                offences.push(format!("{module} imports {dep}"));
            }
        }
        if code[module].contains("wgpu") {
            offences.push(format!("{module} names wgpu"));
        }
    }
    for (module, deps) in graph.iter().filter(|(m, _)| m.starts_with("reference")) {
        for dep in deps.iter().filter(|d| backend.iter().any(|b| d.starts_with(b))) {
            offences.push(format!("{module} (the reference) imports {dep}"));
        }
    }
    assert!(graph.keys().any(|m| m == "ir::graph"), "the walk found the IR: {:?}", graph.keys());
    assert!(offences.is_empty(), "layers import upward:\n{}", offences.join("\n"));
}

#[test]
fn no_import_cycle_joins_the_modules_of_src() {
    let (graph, _) = module_graph();
    let describe = |c: &BTreeSet<String>| c.iter().cloned().collect::<Vec<_>>().join(" <-> ");
    let found: Vec<String> = cycles(&graph).iter().map(describe).collect();
    assert!(graph.len() > 50, "the walk found {} modules", graph.len());
    assert!(found.is_empty(), "import cycles:\n{}", found.join("\n"));
}

#[test]
fn the_walk_sees_a_cycle_where_there_is_one() {
    let mut graph = Graph::new();
    for (a, b) in [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")] {
        graph.entry(a.to_string()).or_default().insert(b.to_string());
        graph.entry(b.to_string()).or_default();
    }
    let found = cycles(&graph);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].iter().map(String::as_str).collect::<Vec<_>>(), ["a", "b", "c"]);
    assert_eq!(expand("crate::x::{y, z::{p, q}}"), ["crate::x::y", "crate::x::z::p", "crate::x::z::q"]);
}
