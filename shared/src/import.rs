//! Importing existing customer ↔ integration mappings in bulk, for a team adopting this
//! bundle with integrations that already exist (Kombo never sends their
//! `integration-created`). Each CSV line becomes an [`Assignment`] written through the
//! same store code as the `PUT /integrations/{id}/customer` route
//! ([`crate::ports::MappingStore::assign`]): conditional, so a re-run changes nothing and
//! a line that disagrees with the table is reported, never forced (unless asked).

use std::io::Read;

use crate::decide::Descriptive;
use crate::decide::routes::Assigned;
use crate::event::MAX_KEY_BYTES;
use crate::keys;
use crate::ports::Assignment;

/// One CSV line (numbered from 1, as an editor shows it), parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub number: u64,
    pub assignment: Result<Assignment, String>,
}

/// Reads `origin_id,integration_id[,tool,category]` lines (a header line naming
/// `origin_id` first is skipped). `tool` defaults to the integration id's prefix
/// (`workday` for `workday:8d1h...`), `category` to `LMS`.
pub fn read(input: impl Read, source: &str, force: bool, at: &str) -> Vec<Line> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let mut lines = Vec::new();
    for record in reader.records() {
        let (number, assignment) = match record {
            Err(e) => (
                e.position().map_or(0, |p| p.line()),
                Err(format!("not CSV: {e}")),
            ),
            Ok(r) => {
                let number = r.position().map_or(0, |p| p.line());
                if number == 1 && r.get(0) == Some("origin_id") {
                    continue;
                }
                (number, parse(&r, source, number, force, at))
            }
        };
        lines.push(Line { number, assignment });
    }
    lines
}

fn parse(
    r: &csv::StringRecord,
    source: &str,
    number: u64,
    force: bool,
    at: &str,
) -> Result<Assignment, String> {
    if !(2..=4).contains(&r.len()) {
        return Err(format!(
            "expected origin_id,integration_id[,tool,category], got {} fields",
            r.len()
        ));
    }
    let field = |i: usize| r.get(i).filter(|v| !v.is_empty());
    let origin_id = field(0).ok_or("origin_id is empty")?;
    let integration_id = field(1).ok_or("integration_id is empty")?;
    for (name, v) in [("origin_id", origin_id), ("integration_id", integration_id)] {
        if v.len() > MAX_KEY_BYTES {
            return Err(format!("{name} is longer than {MAX_KEY_BYTES} bytes"));
        }
    }
    let tool = field(2)
        .or_else(|| integration_id.split_once(':').map(|(t, _)| t))
        .ok_or("tool is empty and the integration id has no tool: prefix")?;
    Ok(Assignment {
        integration_id: integration_id.to_owned(),
        origin_id: origin_id.to_owned(),
        force,
        create: Some(Descriptive {
            tool: Some(tool.to_owned()),
            category: Some(field(3).unwrap_or("LMS").to_owned()),
            ..Descriptive::default()
        }),
        updated_at: at.to_owned(),
        cause: keys::import(source, number),
    })
}

/// What a line's result says, and whether it is a failure (the run exits non-zero).
pub fn describe(result: &Result<Assigned, String>) -> (String, bool) {
    match result {
        Ok(Assigned::Created) => ("created".into(), false),
        Ok(Assigned::Assigned { previous: None }) => ("assigned".into(), false),
        Ok(Assigned::Assigned { previous: Some(p) }) => {
            (format!("assigned (moved from customer {p})"), false)
        }
        Ok(Assigned::Unchanged) => ("unchanged".into(), false),
        Ok(Assigned::Conflict { current }) => (
            format!("conflict: belongs to customer {current} (re-run with --force to move it)"),
            true,
        ),
        Ok(Assigned::Deleted) => ("skipped: the integration is deleted".into(), true),
        Ok(Assigned::NotFound) => ("not found".into(), true),
        Err(e) => (format!("error: {e}"), true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_assignments_and_bad_lines_say_why() {
        let csv = "origin_id,integration_id,tool,category\n\
                   42,workday:abc\n\
                   43 , successfactors:x , successfactors , LMS\n\
                   ,workday:empty\n\
                   44\n\
                   45,noprefix\n";
        let lines = read(csv.as_bytes(), "f.csv", false, "2026-11-27T00:00:00Z");
        let numbers: Vec<u64> = lines.iter().map(|l| l.number).collect();
        assert_eq!(numbers, [2, 3, 4, 5, 6]);
        let a = lines[0].assignment.as_ref().unwrap();
        assert_eq!(
            (a.origin_id.as_str(), a.integration_id.as_str()),
            ("42", "workday:abc")
        );
        let d = a.create.as_ref().unwrap();
        assert_eq!(
            (d.tool.as_deref(), d.category.as_deref()),
            (Some("workday"), Some("LMS"))
        );
        assert_eq!(a.cause, "import:f.csv:2");
        assert_eq!(lines[1].assignment.as_ref().unwrap().origin_id, "43");
        assert_eq!(lines[2].assignment, Err("origin_id is empty".into()));
        assert!(
            lines[3]
                .assignment
                .as_ref()
                .unwrap_err()
                .contains("got 1 fields")
        );
        assert!(
            lines[4]
                .assignment
                .as_ref()
                .unwrap_err()
                .contains("no tool: prefix")
        );
    }
}
