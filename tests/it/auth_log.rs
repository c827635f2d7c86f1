//! Tokens never reach the log: every line the server writes at TRACE level, through calls with
//! a good, a wrong and no token, web view sign-ins and pages, and a failed reload, is searched
//! for them. The test runs in a
//! process of its own (this test binary again, filtered to this one test), because it installs
//! the process's global subscriber, which would otherwise also catch, and slow down, every other
//! test of the binary.

use amicopy::{auth::reload::reload_logged, proto};

use crate::support::{
    Database, TestStorage,
    auth::{TOKEN_A, TOKEN_B, bearer, list, write_tokens},
    copy_request,
};

/// A log sink the test can read back.
#[derive(Clone, Default)]
struct SharedBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Set in the child process that runs the test body.
const CHILD_VAR: &str = "AMICOPY_AUTH_LOG_CHILD";

/// This test's name as the test harness filters it.
const NAME: &str = "auth_log::tokens_never_reach_the_log";

#[tokio::test]
async fn tokens_never_reach_the_log() {
    if std::env::var_os(CHILD_VAR).is_some() {
        return tokens_never_reach_the_log_in_this_process().await;
    }
    let child = tokio::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", NAME, "--nocapture", "--test-threads", "1"])
        .env(CHILD_VAR, "1")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(120), child)
        .await
        .expect("the child test ends in time")
        .expect("the child test runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "the test failed in its own process ({}):\n{stdout}\n{stderr}",
        output.status
    );
}

/// The test itself, in a process where nothing else runs.
async fn tokens_never_reach_the_log_in_this_process() {
    let buffer = SharedBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer({
            let buffer = buffer.clone();
            move || buffer.clone()
        })
        .finish();
    // The only test in this process, so a global subscriber sees every task of the server.
    tracing::subscriber::set_global_default(subscriber).expect("first subscriber");

    let wrong = "wrong-token-5e1b0c";
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.json");
    write_tokens(&tokens, &[("a", TOKEN_A)]);
    let storage = TestStorage::new(Database::Sqlite).await;
    let mut server = storage
        .start(
            &[
                "--auth",
                "token",
                "--auth-tokens-file",
                tokens.to_str().unwrap(),
                "--ui-listen",
                "127.0.0.1:0",
            ],
            None,
        )
        .await;
    server
        .client
        .copy_image(bearer(copy_request("logged-copy"), TOKEN_A))
        .await
        .unwrap();
    server.client.list_copy_jobs(list(wrong)).await.unwrap_err();
    server
        .client
        .list_copy_jobs(proto::ListCopyJobsRequest::default())
        .await
        .unwrap_err();
    // The web view: a sign-in with a wrong and a right token, pages seen with the session and
    // with a script's header.
    let mut browser = crate::ui::Browser::new(server.ui_addr.expect("the web view"));
    browser.post("/sign-in", &[("token", wrong), ("next", "/")]).await;
    browser.post("/sign-in", &[("token", TOKEN_A), ("next", "/jobs")]).await;
    assert_eq!(browser.get("/jobs").await.status, hyper::StatusCode::OK);
    crate::ui::Browser::script(server.ui_addr.unwrap(), TOKEN_A)
        .get("/")
        .await;
    crate::ui::Browser::script(server.ui_addr.unwrap(), wrong)
        .get("/")
        .await;
    std::fs::write(dir.path().join("tokens.json"), format!("{{\"tokens\": \"{TOKEN_B}\"}}")).unwrap();
    reload_logged(server.tokens.as_ref().unwrap());
    server.stop().await;
    storage.cleanup().await;

    let log = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("tenant=\"a\""), "the tenant is on the call's span: {log}");
    assert!(log.contains("not reloaded"), "the failed reload is logged: {log}");
    assert!(
        log.contains("web view request answered"),
        "the web view's requests are logged: {log}"
    );
    for token in [TOKEN_A, TOKEN_B, wrong] {
        assert!(!log.contains(token), "token {token} appears in the log");
        assert!(
            !log.contains(&hex::encode(token)),
            "token {token} appears in the log as its cookie"
        );
    }
}
