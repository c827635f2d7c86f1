//! Tokens never reach the log: every line the server writes at TRACE level, through calls with
//! a good, a wrong and no token and a failed reload, is searched for them. A test binary of its
//! own, because it installs the process's global subscriber.

mod support;

use amicopy::{auth::reload::reload_logged, proto};
use support::{
    Engine, TestStorage,
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

#[tokio::test]
async fn tokens_never_reach_the_log() {
    let buffer = SharedBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer({
            let buffer = buffer.clone();
            move || buffer.clone()
        })
        .finish();
    // The only test in this binary, so a global subscriber sees every task of the server.
    tracing::subscriber::set_global_default(subscriber).expect("first subscriber");

    let wrong = "wrong-token-5e1b0c";
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.json");
    write_tokens(&tokens, &[("a", TOKEN_A)]);
    let storage = TestStorage::new(Engine::Sqlite).await;
    let mut server = storage
        .start(
            &["--auth", "token", "--auth-tokens-file", tokens.to_str().unwrap()],
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
    std::fs::write(dir.path().join("tokens.json"), format!("{{\"tokens\": \"{TOKEN_B}\"}}")).unwrap();
    reload_logged(server.tokens.as_ref().unwrap());
    server.stop().await;
    storage.cleanup().await;

    let log = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("tenant=\"a\""), "the tenant is on the call's span: {log}");
    assert!(log.contains("not reloaded"), "the failed reload is logged: {log}");
    for token in [TOKEN_A, TOKEN_B, wrong] {
        assert!(!log.contains(token), "token {token} appears in the log");
    }
}
