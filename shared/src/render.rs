//! An alert in the form each kind of subscriber reads, sent as one SNS message with
//! `MessageStructure: json` (SNS hands each protocol its own key, `default` to the rest):
//!
//! - `email`: the plain text on-call reads (as before);
//! - `https`: an AWS Chatbot (Amazon Q Developer in chat applications) custom notification,
//!   for Slack, Microsoft Teams or Chime: title, description, next steps with the Kombo log
//!   link, and a thread per customer and tool, so a storm and its resolution land together;
//! - `default`, `sqs`, `lambda` (and `http`, `email-json`, ...): one JSON object with every
//!   field, for automation.
//!
//! The message attributes (for filter policies) are set by the adapter, not here.

use serde_json::{Value, json};

use crate::decide::Alert;

/// The `Message` of the `Publish` call (with `MessageStructure: json`).
pub fn message_structure(alert: &Alert) -> String {
    let machine = machine(alert).to_string();
    json!({
        "default": machine,
        "sqs": machine,
        "lambda": machine,
        "email": alert.message,
        "https": chatbot(alert).to_string(),
    })
    .to_string()
}

/// Every field, for automation (`default`, `sqs`, `lambda`).
pub fn machine(alert: &Alert) -> Value {
    let mut v = json!({
        "schema": "kombo-webhooks/alert/1",
        "kind": alert.kind.as_str(),
        "subject": alert.subject,
        "summary": alert.summary,
        "fields": alert.fields.iter().map(|(l, v)| json!({"label": l, "value": v})).collect::<Vec<_>>(),
        "next_steps": alert.next_steps,
        "thread_id": alert.thread_id,
        "event_id": alert.event_id,
        "log_url": alert.log_url,
        "attributes": alert.attributes.iter().map(|(k, v)| ((*k).to_owned(), Value::from(v.as_str()))).collect::<serde_json::Map<_, _>>(),
    });
    if let Some(incident) = &alert.incident {
        v["incident"] = incident.clone();
    }
    v
}

/// The labels a chat channel does not get: it is read by more people than on-call's
/// mailbox (the e-mail and the machine form keep it).
const NOT_IN_CHAT: [&str; 1] = ["Creator email"];

/// Markdown-escaped, on one line: customer-provided text (organization names, origin ids,
/// tools) in the chat's markdown says what it says: `*Acme*`, `[x](y)` or `<!channel>` are
/// shown, not formatted, linked or expanded, and a newline (or any control character) is a
/// space, so a name cannot add lines to the on-call message.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in one_line(text).chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '<' | '>' | '#' | '|' | '~' | '!'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `text` on one line: a newline (or any control character) is a space.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// An AWS Chatbot custom notification (`https`; the documented event schema: version
/// 1.0, source `custom`, `client-markdown` text). Every field a person reads (the title, the
/// summary and every value, the next steps, the keywords) is escaped ([`md`]); only the
/// labels and the lines between them are formatting.
pub fn chatbot(alert: &Alert) -> Value {
    let mut description = format!("{}\n", md(&alert.summary));
    for (label, value) in alert
        .fields
        .iter()
        .filter(|(l, _)| !NOT_IN_CHAT.contains(&l.as_str()))
    {
        description.push_str(&format!("\n*{label}:* {}", md(value)));
    }
    let field = |label: &str| {
        alert
            .fields
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, v)| v.clone())
    };
    let keywords: Vec<String> = [
        Some(alert.kind.as_str().to_owned()),
        field("Tool"),
        field("Category"),
    ]
    .into_iter()
    .flatten()
    .filter(|k| !k.is_empty())
    .map(|k| md(&k))
    .collect();
    let next_steps: Vec<String> = alert.next_steps.iter().map(|s| md(s)).collect();
    json!({
        "version": "1.0",
        "source": "custom",
        "id": alert.event_id,
        "content": {
            "textType": "client-markdown",
            "title": md(&alert.subject),
            "description": description,
            "nextSteps": next_steps,
            "keywords": keywords,
        },
        "metadata": {
            "threadId": alert.thread_id,
            "summary": one_line(&alert.subject),
            "eventType": alert.kind.as_str(),
            "relatedResources": alert.log_url.iter().collect::<Vec<_>>(),
            "additionalContext": {
                "event_id": alert.event_id,
                "origin_id": field("Customer (origin_id)"),
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::Rules;
    use crate::decide::{Decide, Decision};
    use crate::event::{ConnectionFlowFailed, parse};

    fn flow_failed() -> Alert {
        let body = json!({
            "id": "evt-1", "type": "connection-flow-failed",
            "data": {"integration_tool": "workday", "integration_category": "LMS",
                     "end_user": {"origin_id": "36123", "creator_email": "jane@example.com", "organization_name": "Acme, Inc."},
                     "log_url": "https://app.kombo.dev/env/production/logs/abc"}
        });
        let e = parse::<ConnectionFlowFailed>(body.to_string().as_bytes()).unwrap();
        let now = time::OffsetDateTime::UNIX_EPOCH;
        match ConnectionFlowFailed::decide(e, now, &Rules::default()) {
            Decision::Failure(f) => f.page,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn customer_provided_text_is_escaped_in_the_chat_markdown() {
        let mut a = flow_failed();
        let hostile = "*Acme* _Ltd_ <!channel> [x](y) `code` \\";
        a.summary = format!("Connection failed for {hostile}.");
        a.fields[0].1 = hostile.to_owned();
        let d = chatbot(&a)["content"]["description"]
            .as_str()
            .unwrap()
            .to_owned();
        let escaped = r"\*Acme\* \_Ltd\_ \<\!channel\> \[x\]\(y\) \`code\` \\";
        assert!(
            d.starts_with(&format!("Connection failed for {escaped}.")),
            "{d}"
        );
        assert!(
            d.contains(&format!("*{}:* {escaped}", a.fields[0].0)),
            "{d}"
        );
        // Nothing of it is left unescaped: every markdown character is preceded by '\\'.
        let raw_link = d.contains("[x](y)") || d.contains("<!channel>") || d.contains(" *Acme*");
        assert!(!raw_link, "{d}");
        // No field a person reads takes a line of its own from it, nor formatting.
        let mut b = flow_failed();
        let lines = "Acme\n*Ops:* call 555 [now](https://evil.example)\r\u{2028}x";
        b.subject = format!("Kombo connection failed: {lines}");
        b.summary = format!("Connection failed for {lines}.");
        b.fields[0].1 = lines.to_owned();
        b.next_steps = vec![format!("Tell {lines}")];
        let c = chatbot(&b);
        let content = &c["content"];
        let d = content["description"].as_str().unwrap();
        let shown = b
            .fields
            .iter()
            .filter(|(l, _)| !NOT_IN_CHAT.contains(&l.as_str()))
            .count();
        assert_eq!(d.lines().count(), 2 + shown, "{d}");
        assert!(!d.contains('\u{2028}'), "{d:?}");
        for text in [
            content["title"].as_str().unwrap(),
            content["nextSteps"][0].as_str().unwrap(),
        ] {
            assert!(!text.contains(['\n', '\r', '\u{2028}']), "{text:?}");
            assert!(!text.contains("[now]("), "{text:?}");
        }
        // The notification's plain summary: one line.
        let summary = c["metadata"]["summary"].as_str().unwrap();
        assert!(!summary.contains(['\n', '\r', '\u{2028}']), "{summary:?}");
        // The machine form keeps the text as it is.
        assert!(
            machine(&a)
                .to_string()
                .contains("*Acme* _Ltd_ <!channel> [x](y)")
        );
    }

    #[test]
    fn each_protocol_gets_its_own_rendering_and_default_is_there() {
        let a = flow_failed();
        let m: Value = serde_json::from_str(&message_structure(&a)).unwrap();
        assert_eq!(m["email"], a.message.as_str());
        for key in ["default", "sqs", "lambda"] {
            let doc: Value = serde_json::from_str(m[key].as_str().unwrap()).unwrap();
            assert_eq!(doc, machine(&a), "{key}");
        }
        let chat: Value = serde_json::from_str(m["https"].as_str().unwrap()).unwrap();
        assert_eq!(chat, chatbot(&a));
        // SNS: every value of a JSON message structure is a string.
        assert!(m.as_object().unwrap().values().all(Value::is_string));
    }

    #[test]
    fn the_chat_notification_follows_the_custom_notification_schema() {
        let a = flow_failed();
        let c = chatbot(&a);
        assert_eq!(c["version"], "1.0");
        assert_eq!(c["source"], "custom");
        assert_eq!(c["content"]["textType"], "client-markdown");
        // The title is markdown too (escaped as every value is).
        assert_eq!(
            c["content"]["title"],
            r"Kombo connection failed: Acme, Inc. \(workday LMS\)"
        );
        assert_eq!(
            c["content"]["nextSteps"][0],
            "Open the Kombo log: https://app.kombo.dev/env/production/logs/abc"
        );
        assert_eq!(c["metadata"]["threadId"], "kombo-36123-workday");
        assert!(
            !c.to_string().contains("jane@example.com"),
            "no creator e-mail in chat: {c}"
        );
        let description = c["content"]["description"].as_str().unwrap();
        assert!(
            description.contains("*Customer (origin_id):* 36123"),
            "{description}"
        );
    }

    #[test]
    fn the_machine_form_has_every_field_and_the_attributes() {
        let a = flow_failed();
        let m = machine(&a);
        assert_eq!(m["kind"], "connection-flow-failed");
        assert_eq!(
            m["log_url"],
            "https://app.kombo.dev/env/production/logs/abc"
        );
        assert_eq!(m["attributes"]["origin_id"], "36123");
        let labels: Vec<&str> = m["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["label"].as_str().unwrap())
            .collect();
        assert_eq!(
            labels,
            [
                "Organization",
                "Customer (origin_id)",
                "Tool",
                "Category",
                "Creator email",
                "Kombo log",
                "Kombo event id"
            ]
        );
    }
}
