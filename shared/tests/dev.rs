//! `make dev`, the README's first command, as a user runs it: `scripts/dev.py` starts the
//! local stack (DynamoDB Local, moto, the fake Kombo, `cargo lambda watch`), a signed sample goes through
//! `scripts/send.py` and is stored, and Ctrl-C (SIGINT) stops every process it started.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

#[test]
fn make_dev_serves_a_signed_sample_and_ctrl_c_stops_everything() {
    let ports = [
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    ];
    let env = [
        ("LOCAL_AWS_PORT", ports[0].to_string()),
        ("LOCAL_FN_PORT", ports[1].to_string()),
        ("LOCAL_KOMBO_PORT", ports[2].to_string()),
        ("LOCAL_DYNAMODB_PORT", ports[3].to_string()),
        ("LOCAL_PAGE_PORT", ports[4].to_string()),
    ];
    let mut dev = Command::new(tool("python3"))
        .arg(repo_root().join("scripts/dev.py"))
        .current_dir(repo_root())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(dev.stdout.take().unwrap());
    let mut line = String::new();
    let mut said = String::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !line.contains("Ctrl-C stops everything") {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "dev.py ended before the stack was up"
        );
        said.push_str(&line);
        assert!(Instant::now() < deadline, "the stack did not come up");
    }
    // It names the Connect page, and the page is served with Kombo's SDK beside it.
    let page = format!("http://127.0.0.1:{}/?customer=42", ports[4]);
    assert!(said.contains(&page), "{said}");
    let get = |path: &str| {
        let out = Command::new(tool("python3"))
            .args(["-c", "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())"])
            .arg(format!("http://127.0.0.1:{}{path}", ports[4]))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(get("/").contains("Connect your LMS"));
    assert!(
        get("/node_modules/@kombo-api/connect/dist/index.mjs")
            .contains("export { KomboConnectAlreadyOpenError")
    );
    // cargo lambda watch compiles a function on its first request.
    let send = Command::new(tool("python3"))
        .arg(repo_root().join("scripts/send.py"))
        .arg(repo_root().join("events/integration-created.json"))
        .current_dir(repo_root())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&send.stdout);
    assert!(
        said.contains("-> 200") && said.contains("\"outcome\":\"stored\""),
        "{said}"
    );
    assert!(
        said.contains("-- mapping rows in local-MappingsTable: 1"),
        "{said}"
    );

    let interrupted = Command::new("kill")
        .args(["-INT", &dev.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let stop_by = Instant::now() + Duration::from_secs(20);
    while dev.try_wait().unwrap().is_none() {
        assert!(Instant::now() < stop_by, "dev.py did not stop on Ctrl-C");
        std::thread::sleep(Duration::from_millis(100));
    }
    for (name, port) in &env {
        let port: u16 = port.parse().unwrap();
        assert!(!listening(port), "{name} {port} still served after Ctrl-C");
    }
}
