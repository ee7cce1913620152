//! The shape of the house, read from the source: no module imports one that imports it
//! (directly or through others), `decide/` imports only the event types, the error, the
//! clock and the keys, the front doors never import each other, and every DynamoDB
//! attribute name and key prefix is spelled once (in `dynamo/schema.rs` and `keys.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module of the crate: its path (`decide::state`) and its code without tests and
/// comments.
struct Module {
    path: String,
    file: PathBuf,
    code: String,
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().unwrap() != "bin" {
                files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code a build without tests compiles: the file up to its test module, line comments
/// (and doc comments) left out.
fn code(text: &str) -> String {
    let end = text.find("#[cfg(test)]").unwrap_or(text.len());
    text[..end]
        .lines()
        .map(|l| match l.trim_start().starts_with("//") {
            true => "",
            false => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn modules() -> Vec<Module> {
    let root = src();
    let mut paths = Vec::new();
    files(&root, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|file| {
            let rel = file.strip_prefix(&root).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
                parts.pop();
            }
            let text = std::fs::read_to_string(&file).unwrap();
            Module {
                path: parts.join("::"),
                code: code(&text),
                file,
            }
        })
        .collect()
}

/// The modules `m` names in its code: `crate::a::b`, `super::x`, and its own child modules
/// named relative to it (`use row::Mapping`), each resolved to the deepest module of `known`.
fn imports(m: &Module, known: &BTreeSet<String>) -> BTreeSet<String> {
    let parent = match m.path.rsplit_once("::") {
        Some((p, _)) => p.to_owned(),
        None => String::new(),
    };
    let join = |base: &str, rest: &str| match base {
        "" => rest.to_owned(),
        b => format!("{b}::{rest}"),
    };
    let path_re = regex_lite::Regex::new(
        r"\b(crate|super)::((?:[a-z_][a-z0-9_]*::)*)(\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)",
    )
    .unwrap();
    let relative_re = regex_lite::Regex::new(r"\buse\s+([a-z_][a-z0-9_]*)::").unwrap();
    // Inline modules (`mod common { ... }`): inside one, `super` is this file's module.
    let inline_re = regex_lite::Regex::new(r"\bmod\s+[a-z_][a-z0-9_]*\s*\{").unwrap();
    let inline: Vec<(usize, usize)> = inline_re
        .find_iter(&m.code)
        .map(|open| {
            let mut depth = 0;
            let mut end = m.code.len();
            for (i, ch) in m.code[open.end() - 1..].char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = open.end() - 1 + i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            (open.start(), end)
        })
        .collect();
    let mut named = Vec::new();
    for c in path_re.captures_iter(&m.code) {
        let at = c.get(0).unwrap().start();
        let inside = inline.iter().any(|(a, b)| (*a..*b).contains(&at));
        let base = match (&c[1], inside) {
            ("crate", _) => "",
            (_, true) => m.path.as_str(),
            (_, false) => parent.as_str(),
        };
        let middle = c[2].trim_end_matches(':');
        let prefix = join(base, middle);
        let last = &c[3];
        if let Some(group) = last.strip_prefix('{') {
            for item in group.trim_end_matches('}').split(',') {
                let item = item.trim().split(" as ").next().unwrap().trim();
                if !item.is_empty() && item != "self" {
                    named.push(join(&prefix, &item.replace(' ', "")));
                } else if item == "self" {
                    named.push(prefix.clone());
                }
            }
        } else {
            named.push(join(&prefix, last));
        }
    }
    for c in relative_re.captures_iter(&m.code) {
        let child = join(&m.path, &c[1]);
        if known.contains(&child) {
            named.push(child);
        }
    }
    named
        .into_iter()
        .filter_map(|n| {
            let mut parts: Vec<&str> = n.split("::").collect();
            while !parts.is_empty() {
                let candidate = parts.join("::");
                if known.contains(&candidate) {
                    return Some(candidate);
                }
                parts.pop();
            }
            None
        })
        .filter(|target| *target != m.path && !target.is_empty())
        .collect()
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    let known: BTreeSet<String> = modules.iter().map(|m| m.path.clone()).collect();
    modules
        .iter()
        .map(|m| (m.path.clone(), imports(m, &known)))
        .collect()
}

/// A loop of imports through `from`, if there is one.
fn loop_through(g: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    let mut stack = vec![(from.to_owned(), vec![from.to_owned()])];
    let mut seen = BTreeSet::new();
    while let Some((at, trail)) = stack.pop() {
        for next in g.get(&at).into_iter().flatten() {
            if next == from {
                let mut trail = trail.clone();
                trail.push(next.clone());
                return Some(trail);
            }
            if seen.insert(next.clone()) {
                let mut trail = trail.clone();
                trail.push(next.clone());
                stack.push((next.clone(), trail));
            }
        }
    }
    None
}

#[test]
fn the_source_is_read_as_the_compiler_reads_it() {
    let g = graph();
    // The reader sees what the house is made of: a few known imports, each way of naming.
    assert!(g["webhook"].contains("effects"), "crate:: path");
    assert!(
        g["decide::notices"].contains("decide::alert"),
        "super:: path"
    );
    assert!(
        g["decide"].contains("decide::row"),
        "a child named relative to its parent"
    );
    assert!(g["aws"].contains("clock"), "a group: crate::{{clock, ...}}");
    assert!(!g["decide"].contains("decide"), "no module imports itself");
}

#[test]
fn no_module_imports_a_module_that_imports_it() {
    let g = graph();
    let loops: Vec<String> = g
        .keys()
        .filter_map(|m| loop_through(&g, m))
        .map(|trail| trail.join(" -> "))
        .collect();
    assert!(loops.is_empty(), "import loops:\n{}", loops.join("\n"));
}

#[test]
fn decide_imports_only_events_errors_the_clock_and_the_keys() {
    let allowed = ["event", "event::api", "error", "clock", "keys"];
    for (m, targets) in graph() {
        if m != "decide" && !m.starts_with("decide::") {
            continue;
        }
        for t in targets {
            assert!(
                t == "decide" || t.starts_with("decide::") || allowed.contains(&t.as_str()),
                "{m} imports {t}"
            );
        }
    }
}

#[test]
fn the_front_doors_never_import_each_other_and_the_effects_none_of_them() {
    let doors = ["webhook", "backend", "reconcile", "sweep"];
    let door_of = |m: &str| {
        doors
            .iter()
            .find(|d| m == **d || m.starts_with(&format!("{d}::")))
            .copied()
    };
    for (m, targets) in graph() {
        for t in &targets {
            if let (Some(a), Some(b)) = (door_of(&m), door_of(t)) {
                assert_eq!(a, b, "{m} imports {t}: front doors are apart");
            }
            if m == "effects" || m.starts_with("effects::") {
                assert!(door_of(t).is_none(), "{m} imports the front door {t}");
            }
        }
    }
}

/// The string literals of `code` (escaped quotes inside them kept).
fn literals(code: &str) -> Vec<String> {
    let re = regex_lite::Regex::new(r#"(?s)"((?:[^"\\]|\\.)*)""#).unwrap();
    re.captures_iter(code).map(|c| c[1].to_owned()).collect()
}

/// `const NAME: &str = "value";` of a file, as (NAME, value).
fn constants(code: &str) -> Vec<(String, String)> {
    let re = regex_lite::Regex::new(r#"const ([A-Z_0-9]+): &str = "([^"]*)";"#).unwrap();
    re.captures_iter(code)
        .map(|c| (c[1].to_owned(), c[2].to_owned()))
        .collect()
}

#[test]
fn every_attribute_name_is_spelled_once_in_the_schema() {
    let modules = modules();
    let schema = modules.iter().find(|m| m.path == "dynamo::schema").unwrap();
    let names: BTreeSet<String> = constants(&schema.code)
        .into_iter()
        .filter(|(c, _)| {
            !c.ends_with("_INDEX") && !c.starts_with("SWEEP_") && !c.starts_with("MEMBER_")
        })
        .map(|(_, v)| v)
        .collect();
    assert!(names.contains("invalid_page") && names.contains("event_id"));
    let mut declared = BTreeMap::new();
    for (_, v) in constants(&schema.code) {
        *declared.entry(v).or_insert(0) += 1;
    }
    for (v, n) in &declared {
        assert_eq!(*n, 1, "{v:?} is declared {n} times in the schema");
    }
    let word = regex_lite::Regex::new(r"(^|[^:#A-Za-z0-9_])([A-Za-z_][A-Za-z0-9_]*)").unwrap();
    let mut found = Vec::new();
    for m in modules
        .iter()
        .filter(|m| m.path.starts_with("dynamo::") && m.path != "dynamo::schema")
    {
        // Prose (a message: spaces, and none of an expression's `#name`, `:value` or `=`)
        // names no attribute.
        let placeholder = regex_lite::Regex::new(r"[#:][A-Za-z_]|=").unwrap();
        let prose = |lit: &str| lit.contains(' ') && !placeholder.is_match(lit);
        for lit in literals(&m.code).into_iter().filter(|l| !prose(l)) {
            for c in word.captures_iter(&lit) {
                if names.contains(&c[2]) {
                    found.push(format!("{}: {:?} in {lit:?}", m.file.display(), &c[2]));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "attribute names spelled outside dynamo/schema.rs:\n{}",
        found.join("\n")
    );
}

#[test]
fn every_key_and_claim_id_prefix_is_spelled_once_in_keys() {
    let modules = modules();
    let keys = modules.iter().find(|m| m.path == "keys").unwrap();
    let prefixes: Vec<String> = constants(&keys.code).into_iter().map(|(_, v)| v).collect();
    assert!(prefixes.len() >= 14, "{prefixes:?}");
    let mut found = Vec::new();
    for m in modules.iter().filter(|m| m.path != "keys") {
        for lit in literals(&m.code) {
            for p in &prefixes {
                // As a key's start: not the tail of a longer word ("reconnect:"), nor a
                // word of prose ("Kombo issue: ..."; a key goes on without a space).
                let starts = lit.match_indices(p.as_str()).any(|(at, _)| {
                    !lit[..at]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                        && !lit[at + p.len()..].starts_with(char::is_whitespace)
                });
                if starts {
                    found.push(format!("{}: {p:?} in {lit:?}", m.file.display()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "key prefixes spelled outside keys.rs:\n{}",
        found.join("\n")
    );
}
