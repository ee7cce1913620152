//! The front door holds: README stays short, its links and the docs' links resolve
//! (`scripts/check_links.py`), and the deploy path names only what the template has — every
//! stack output it reads, every parameter it passes, every resource it names.

mod support;

use std::collections::BTreeSet;

use serde_json::Value;
use support::*;

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo_root().join(rel)).unwrap()
}

/// README.md and every docs/*.md, as (path, text).
fn documents() -> Vec<(String, String)> {
    let mut docs = vec![("README.md".to_owned(), read("README.md"))];
    let mut names: Vec<_> = std::fs::read_dir(repo_root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".md"))
        .collect();
    names.sort();
    for n in names {
        let rel = format!("docs/{n}");
        docs.push((rel.clone(), read(&rel)));
    }
    docs
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// Every match of the first group of `pattern` in `text`.
fn captures(text: &str, pattern: &str) -> Vec<String> {
    regex_lite::Regex::new(pattern)
        .unwrap()
        .captures_iter(text)
        .map(|c| c[1].to_owned())
        .collect()
}

#[test]
fn the_readme_is_read_in_ten_minutes() {
    let lines = read("README.md").lines().count();
    assert!(
        lines <= 250,
        "README.md has {lines} lines; the rest goes to docs/"
    );
    // Each doc says what it covers in its first paragraph, under its title.
    for (path, text) in documents().into_iter().skip(1) {
        let mut paras = text.split("\n\n");
        let title = paras.next().unwrap();
        assert!(title.starts_with("# "), "{path} starts with its title");
        let intro = paras.next().unwrap();
        assert!(
            !intro.starts_with('#') && !intro.starts_with("```") && intro.len() > 80,
            "{path}: the first paragraph says what it covers, got {intro:?}"
        );
    }
}

#[test]
fn every_link_anchor_make_target_and_path_the_docs_name_exists() {
    script("check_links.py", &[]);
}

#[test]
fn the_deploy_path_names_only_outputs_parameters_and_resources_the_template_has() {
    let template = template();
    let outputs = keys(&template["Outputs"]);
    let parameters = keys(&template["Parameters"]);
    let resources = keys(&template["Resources"]);
    let mut checked = 0;
    for (path, text) in documents() {
        // Outputs read with describe-stacks, or with README's `out NAME` helper.
        let mut used = captures(&text, r"OutputKey=='(\w+)'");
        used.retain(|o| o != "$1");
        used.extend(
            captures(&text, r#"out "?\$?(\w+)"?\)"#)
                .into_iter()
                .filter(|o| o != "o"),
        );
        if let Some(list) = captures(&text, r"for o in ([\w ]+); do").first() {
            used.extend(list.split_whitespace().map(str::to_owned));
        }
        for o in used {
            assert!(
                outputs.contains(&o),
                "{path} reads output {o}; the template has {outputs:?}"
            );
            checked += 1;
        }
        // Parameters passed as `Name=value` (a deploy's overrides).
        for p in captures(&text, r"\b([A-Z][a-z]+(?:[A-Z][a-z0-9]*)+)=[^=]") {
            assert!(
                parameters.contains(&p),
                "{path} passes parameter {p}: not in the template"
            );
            checked += 1;
        }
        // Names in backticks that look like the template's (CamelCase, ending like one).
        for name in captures(
            &text,
            r"`([A-Z][a-z]+(?:[A-Z][a-z0-9]+)+(?:Url|Arn|Name|Group|Secret|Policy|Table|Days|Email|Callers|Environment|Schedule|Seconds))`",
        ) {
            assert!(
                outputs.contains(&name) || parameters.contains(&name) || resources.contains(&name),
                "{path} names `{name}`: no such output, parameter or resource in template.yaml"
            );
            checked += 1;
        }
    }
    // README's deploy path itself: the secrets step, the caller policy, the webhook URLs.
    let readme = read("README.md");
    for output in [
        "WebhookSecretArn",
        "KomboApiKeySecretArn",
        "BackendCallerPolicyArn",
        "IntegrationCreatedWebhookUrl",
        "IntegrationDeletedWebhookUrl",
        "ConnectionFlowFailedWebhookUrl",
        "IntegrationStateChangedWebhookUrl",
    ] {
        assert!(
            readme.contains(&format!("out {output}"))
                || readme.contains(&format!(" {output} "))
                || readme.contains(&format!(" {output};")),
            "README's deploy path reads {output}"
        );
    }
    assert!(
        checked > 20,
        "only {checked} names checked: the patterns no longer match the docs"
    );
}
