//! `import-mappings`: links existing Kombo integrations to customers in bulk, from a CSV of
//! `origin_id,integration_id[,tool,category]`, through the same conditional store code as
//! the `PUT /integrations/{id}/customer` route. Reports what it did per line; safe to
//! re-run (what is already so is `unchanged`). Uses the standard AWS configuration
//! (profile, region, `AWS_ENDPOINT_URL`); `scripts/import-mappings.sh` runs it.
//!
//!     import-mappings --table TABLE [--force] FILE.csv|-

use std::process::ExitCode;

use shared::dynamo::DynamoStore;
use shared::ports::MappingStore;

const USAGE: &str = "usage: import-mappings --table TABLE [--force] FILE.csv|-";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let (mut table, mut force, mut file) = (std::env::var("TABLE_NAME").ok(), false, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--table" => table = args.next(),
            "--force" => force = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ if file.is_none() => file = Some(arg),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let (Some(table), Some(file)) = (table, file) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let input: Box<dyn std::io::Read> = if file == "-" {
        Box::new(std::io::stdin())
    } else {
        match std::fs::File::open(&file) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("import-mappings: {file}: {e}");
                return ExitCode::from(2);
            }
        }
    };
    let now = shared::clock::rfc3339(time::OffsetDateTime::now_utc());
    let source = std::path::Path::new(&file)
        .file_name()
        .map_or("stdin".into(), |n| n.to_string_lossy().into_owned());
    let lines = shared::import::read(input, &source, force, &now);

    let sdk = shared::aws_config_loader().load().await;
    let mut settings = shared::config::Settings::for_tests(&table, "", "");
    settings.records_table = None;
    settings.alert_topic_arn = None;
    let store = DynamoStore::new(shared::dynamodb_client(&sdk), &settings);

    let mut failed = 0;
    for line in &lines {
        let result = match &line.assignment {
            Err(e) => Err(e.clone()),
            Ok(a) => store.assign(a).await.map_err(|e| {
                let cause = std::error::Error::source(&e).map(|s| format!(": {s}"));
                format!("{e}{}", cause.unwrap_or_default())
            }),
        };
        let (what, bad) = shared::import::describe(&result);
        failed += usize::from(bad);
        let id = line
            .assignment
            .as_ref()
            .map(|a| format!(" {} -> {}", a.integration_id, a.origin_id))
            .unwrap_or_default();
        let sep = if id.is_empty() { "" } else { ":" };
        println!("line {}:{id}{sep} {what}", line.number);
    }
    println!("{} lines, {} not done", lines.len(), failed);
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
