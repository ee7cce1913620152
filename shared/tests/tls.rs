//! What the functions trust, through the built binaries: never the system CA store (they
//! start and serve without one), the compiled-in roots for AWS and Kombo, and an extra root
//! only when `EXTRA_CA_PEM_FILE` names it. A TLS failure is a clear 5xx with the cause in
//! the log. The servers are local HTTPS stand-ins with a throwaway CA (`scripts/test_tls.py`).

mod support;

use std::path::PathBuf;

use serde_json::{Value, json};
use support::*;

/// No system CA store: where rustls-native-certs (and OpenSSL) would look, nothing.
fn without_system_roots(env: Vec<(String, String)>) -> Vec<(String, String)> {
    let env = with_env(env, "SSL_CERT_FILE", "/nonexistent/ca-bundle.crt");
    with_env(env, "SSL_CERT_DIR", "/nonexistent/certs")
}

fn certs(dir: &std::path::Path) -> (String, String, String) {
    script("test_tls.py", &[dir.to_str().unwrap()]);
    let p = |f: &str| dir.join(f).to_string_lossy().into_owned();
    (p("ca.pem"), p("server.pem"), p("server.key"))
}

fn file(dir: &std::path::Path, name: &str, event: &Value) -> PathBuf {
    let p = dir.join(format!("{name}.json"));
    std::fs::write(&p, event.to_string()).unwrap();
    p
}

fn link_event() -> Value {
    backend_event(
        "POST",
        "POST /customers/{origin_id}/connection-link",
        "/customers/42/connection-link",
        json!({"origin_id": "42"}),
        Some(json!({"end_user_email": "it@acme.example", "end_user_organization_name": "Acme"})),
    )
}

#[tokio::test]
async fn only_the_compiled_in_and_explicitly_added_roots_are_trusted() {
    let stack = Stack::new("tls");
    let dir = std::env::temp_dir().join(format!("kombo-tls-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let (ca, cert, key) = certs(&dir);

    // Kombo over HTTPS with a certificate from a CA the functions do not know.
    let kombo = FakeKombo::start_tls(&cert, &key);
    let link = file(&dir, "link", &link_event());
    let env = without_system_roots(with_env(
        template_env(&stack, "connection-link"),
        "KOMBO_API_BASE_URL",
        &kombo.base_url,
    ));
    let (r, log) = invoke_files("connection-link", &env, std::slice::from_ref(&link), 10_000);
    assert_eq!(answers(&r), [(502, "kombo_error".to_owned())], "{log}");
    let body = r["responses"][0]["response"]["body"].as_str().unwrap();
    assert!(body.contains("KOMBO_UNREACHABLE"), "{body}");
    assert!(
        log.contains("certificate"),
        "the cause names the certificate problem:\n{log}"
    );
    // The same CA added explicitly: trusted.
    let env = with_env(env, "EXTRA_CA_PEM_FILE", &ca);
    let (r, log) = invoke_files("connection-link", &env, &[link], 10_000);
    let body: Value =
        serde_json::from_str(r["responses"][0]["response"]["body"].as_str().unwrap()).unwrap();
    assert!(
        body["link"]
            .as_str()
            .is_some_and(|l| l.contains("/connect?token=link-42-")),
        "{log}"
    );

    // DynamoDB behind an HTTPS endpoint from the same unknown CA: a 503 whose logged cause
    // is the certificate, then trusted once the root is added.
    let https = FaultServer::proxy_tls(&stack.ddb_endpoint, &[], &cert, &key);
    let created = event_file(
        &dir,
        "created",
        CREATED,
        &created_body("c-tls", "workday:tls", Some("42")),
    );
    let env = without_system_roots(with_env(
        template_env(&stack, "integration-created"),
        "AWS_ENDPOINT_URL_DYNAMODB",
        &https.endpoint,
    ));
    let (r, log) = invoke_files(
        "integration-created",
        &env,
        std::slice::from_ref(&created),
        10_000,
    );
    assert_eq!(
        answers(&r),
        [(503, "dependency_unavailable".to_owned())],
        "{log}"
    );
    let line = log
        .lines()
        .find(|l| l.contains("dependency_unavailable"))
        .unwrap();
    assert!(
        line.contains("certificate"),
        "the cause names the certificate problem: {line}"
    );
    let env = with_env(env, "EXTRA_CA_PEM_FILE", &ca);
    let (r, log) = invoke_files("integration-created", &env, &[created], 10_000);
    assert_eq!(answers(&r), [(200, "stored".to_owned())], "{log}");

    // An explicit opt-in that cannot be honoured stops the function at init, naming it.
    let env = with_env(env, "EXTRA_CA_PEM_FILE", "/nonexistent/proxy-root.pem");
    let (r, log) = invoke("integration-created", &env, &["integration-created.json"]);
    assert_ne!(r["exited_early"], Value::Null, "{r}");
    assert!(log.contains("EXTRA_CA_PEM_FILE"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn every_function_starts_and_serves_without_a_system_ca_store() {
    let stack = Stack::new("no-ca-store");
    let kombo = FakeKombo::start();
    for (function, event) in [
        ("integration-created", "integration-created.json"),
        ("integration-deleted", "integration-deleted.json"),
        ("connection-flow-failed", "connection-flow-failed.json"),
        (
            "integration-state-changed",
            "integration-state-changed.json",
        ),
        ("connection-link", "connection-link.json"),
        ("customer-integrations", "customer-integrations.json"),
        ("assign-customer", "assign-customer.json"),
        ("delete-integration", "delete-integration.json"),
    ] {
        let env = without_system_roots(with_env(
            template_env(&stack, function),
            "KOMBO_API_BASE_URL",
            &kombo.base_url,
        ));
        let (r, log) = invoke(function, &env, &[event]);
        assert_eq!(r["init_error"], Value::Null, "{function}: {log}");
        assert_eq!(r["exited_early"], Value::Null, "{function}: {log}");
        let code = r["responses"][0]["response"]["statusCode"]
            .as_i64()
            .unwrap();
        assert!(code < 500, "{function} answered {code}: {log}");
    }
}
