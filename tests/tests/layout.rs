//! The layout every service moves to (`../shared/design/layout.md`), kept by a test: no import
//! cycle between the top-level modules of a crate, nothing but `lib.rs` reaching into a service's
//! `api` room, and no source file over 500 lines. What does not meet it yet is named below with
//! the size it may not outgrow; the lists only shrink.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

/// The crates whose modules are checked, relative to the workspace root.
const CRATES: &[&str] = &[
    "services/kit",
    "services/organization",
    "services/education",
    "services/stations",
    "services/governance",
    "services/redsupply",
    "proto",
];

const MAX_LINES: usize = 500;

/// Files still over `MAX_LINES`, each with the length it may not exceed.
const LONG_FILES: &[(&str, usize)] = &[];

/// Import cycles between top-level modules that exist today: none. Each would be the set of
/// modules in it.
const KNOWN_CYCLES: &[(&str, &[&str])] = &[];

/// Modules other than `lib.rs` that reach into a service's `api` today.
const KNOWN_API_IMPORTS: &[(&str, &str)] = &[];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("a source directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The two rooms inside `events`: what publishes sits below the use cases, what consumes above.
const EVENT_ROOMS: &[&str] = &["publish", "consume"];

/// The top-level module a file belongs to (`api/party.rs` → `api`; `lib.rs` → `lib`), with
/// `events` split into its rooms (`events/publish.rs` → `events::publish`, `events/consume/x.rs`
/// → `events::consume`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts = rel.components().map(|c| {
        c.as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned()
    });
    let first = parts.next().expect("a component");
    match parts.next() {
        Some(room) if first == "events" && EVENT_ROOMS.contains(&room.as_str()) => {
            format!("events::{room}")
        }
        _ => first,
    }
}

/// The crate's own top-level modules a source text names through `crate::` (a `use crate::{a,
/// b::c}` group included), test modules left out.
fn imports(text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or(text);
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level names of the group: the first word of each comma-separated item at depth 0.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.insert(first_word(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    item.push(c);
                }
            }
            found.insert(first_word(&item));
        } else {
            found.insert(first_word(rest));
        }
    }
    found.retain(|m| modules.contains(m));
    found
}

/// The rooms of a service (layout.md), lowest first: a module may import only rooms below its
/// own. `api` and `events::consume` share the top: neither imports the other.
const ROOMS: &[(&str, usize)] = &[
    ("domain", 0),
    ("store", 1),
    ("events::publish", 2),
    ("app", 3),
    ("events::consume", 4),
    ("api", 4),
];

/// Service modules that are not one of the rooms yet, each named with its crate; the list only
/// shrinks.
const OUTSIDE_ROOMS: &[(&str, &str)] = &[("services/organization", "change")];

/// The crates laid out in rooms.
const SERVICES: &[&str] = &[
    "services/organization",
    "services/education",
    "services/stations",
    "services/governance",
];

/// Files outside an `app` room that open a transaction today; the list only shrinks.
const TRANSACTIONS_OUTSIDE_APP: &[&str] = &[];

fn rank(module: &str) -> Option<usize> {
    ROOMS.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

/// The module an import path starts with: its first word, or `events::<room>`.
fn first_word(s: &str) -> String {
    let word = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let s = s.trim_start();
    let first = word(s);
    if first == "events"
        && let Some(rest) = s[first.len()..].strip_prefix("::")
    {
        let room = word(rest);
        if EVENT_ROOMS.contains(&room.as_str()) {
            return format!("events::{room}");
        }
    }
    first
}

/// The module graph of one crate: top-level module → the modules it imports.
fn graph(krate: &str) -> BTreeMap<String, BTreeSet<String>> {
    let src = root().join(krate).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let m = module_of(&src, f);
        let text = fs::read_to_string(f).expect("a source file");
        let mut to = imports(&text, &modules);
        to.remove(&m);
        g.entry(m).or_default().extend(to);
    }
    g
}

/// The strongly connected components of more than one module (Tarjan).
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    struct State<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        next: usize,
        out: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on.insert(v);
        let g = s.g;
        for w in g.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                comp.insert(w.to_owned());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in g.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn no_crate_grows_an_import_cycle_between_its_modules() {
    let mut problems = Vec::new();
    for krate in CRATES {
        for cycle in cycles(&graph(krate)) {
            let known = KNOWN_CYCLES.iter().any(|(k, members)| {
                k == krate && cycle.iter().all(|m| members.contains(&m.as_str()))
            });
            if !known {
                problems.push(format!("{krate}: import cycle between {cycle:?}"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn only_lib_reaches_into_a_services_api() {
    let mut problems = Vec::new();
    // kit's `api` is its status helpers, not a service's gRPC room.
    for krate in CRATES
        .iter()
        .filter(|k| k.starts_with("services/") && **k != "services/kit")
    {
        for (from, to) in graph(krate) {
            let known = KNOWN_API_IMPORTS.contains(&(krate, from.as_str()));
            if to.contains("api") && from != "lib" && from != "main" && !known {
                problems.push(format!(
                    "{krate}: {from} imports api (arrows point into api)"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn rooms_point_one_way() {
    let mut problems = Vec::new();
    for krate in SERVICES {
        for (from, to) in graph(krate) {
            let Some(r) = rank(&from) else { continue };
            for t in to {
                if rank(&t).is_some_and(|rt| rt >= r) {
                    problems.push(format!("{krate}: {from} imports {t} (a back-edge)"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn every_module_of_a_service_is_a_room() {
    let mut problems = Vec::new();
    for krate in SERVICES {
        for module in graph(krate).keys() {
            let known = OUTSIDE_ROOMS.contains(&(krate, module.as_str()));
            if rank(module).is_none() && module != "lib" && module != "events" && !known {
                problems.push(format!("{krate}: `{module}` is outside the rooms"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn only_app_opens_a_transaction() {
    let mut problems = Vec::new();
    for krate in SERVICES.iter().chain(&["services/redsupply"]) {
        let src = root().join(krate).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        for f in files {
            let rel = f
                .strip_prefix(root())
                .expect("in the workspace")
                .to_string_lossy()
                .into_owned();
            let text = fs::read_to_string(&f).expect("a source file");
            let code = text.split("#[cfg(test)]").next().unwrap_or(&text);
            let in_app = f.strip_prefix(&src).is_ok_and(|r| r.starts_with("app"));
            if code.contains(".begin()")
                && !in_app
                && !TRANSACTIONS_OUTSIDE_APP.contains(&rel.as_str())
            {
                problems.push(format!("{rel} opens a transaction outside app"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn no_source_file_outgrows_its_bound() {
    let mut problems = Vec::new();
    for krate in CRATES {
        let mut files = Vec::new();
        rust_files(&root().join(krate).join("src"), &mut files);
        for f in files {
            let rel = f
                .strip_prefix(root())
                .expect("in the workspace")
                .to_string_lossy()
                .into_owned();
            let lines = fs::read_to_string(&f)
                .expect("a source file")
                .lines()
                .count();
            let bound = LONG_FILES
                .iter()
                .find(|(p, _)| *p == rel)
                .map_or(MAX_LINES, |(_, n)| *n);
            if lines > bound {
                problems.push(format!("{rel}: {lines} lines, at most {bound}"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_scanner_sees_imports_and_cycles() {
    let modules: BTreeSet<String> = ["api", "store", "events", "domain"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let found = imports(
        "use crate::{api::x, store::{self, Row}, events};\nfn f() { crate::domain::g(); }",
        &modules,
    );
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        ["api", "domain", "events", "store"]
    );
    let rooms: BTreeSet<String> = ["app", "events::publish", "events::consume"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let found = imports(
        "use crate::{app::x, events::publish};\nuse crate::events::consume::Y;",
        &rooms,
    );
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        ["app", "events::consume", "events::publish"]
    );
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("a".into());
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(cycles(&g).len(), 1);
}
