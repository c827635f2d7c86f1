//! The web view authenticates as the gRPC port does: a browser signs in with a bearer token kept
//! in an HttpOnly SameSite=Strict cookie (never in a page), a script sends the header, a client
//! certificate names its tenant over TLS; a tenant sees only its own jobs and distributions;
//! state changes forged by another site are refused; and `--auth none` stays on loopback.

use std::path::PathBuf;

use amicopy::{app::App, config::Config, proto};
use clap::Parser;
use hyper::StatusCode;

use super::{Browser, world};
use crate::{
    distributions::{World, request},
    support::{
        Database,
        auth::{TOKEN_A, TOKEN_B, bearer, write_tokens},
        tls::TestPki,
    },
};

/// A world with `--auth token` for tenants a and b, and a distribution of tenant a's.
async fn token_world() -> (World, Browser, tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.json");
    write_tokens(&tokens, &[("a", TOKEN_A), ("b", TOKEN_B)]);
    let (mut world, browser) = world(
        Database::Sqlite,
        &["--auth", "token", "--auth-tokens-file", tokens.to_str().unwrap()],
    )
    .await;
    let created = world
        .client
        .create_distribution(bearer(request("tenant-a", &["us-west-2"]), TOKEN_A))
        .await
        .expect("tenant a's distribution is accepted")
        .into_inner()
        .distribution
        .expect("a distribution");
    (world, browser, dir, created.distribution_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_signs_in_with_a_token_that_no_page_ever_shows() {
    let (world, mut browser, _dir, id) = token_world().await;
    let hex_token = hex::encode(TOKEN_A);

    // Not signed in: a page view goes to the sign-in page, and comes back afterwards.
    let page = format!("/distributions/{id}");
    let away = browser.get(&page).await;
    assert_eq!(away.status, StatusCode::SEE_OTHER);
    let location = away.header("location").expect("a redirect").to_owned();
    assert_eq!(location, format!("/sign-in?next=/distributions/{id}"));
    let form = browser.get(&location).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains(r#"type="password""#) && form.body.contains(r#"<label for="token">"#));
    assert!(browser.cookie.is_none(), "no session before signing in");

    // A wrong token is refused without being repeated.
    let wrong = "not-a-token-7c1e";
    let refused = browser.post("/sign-in", &[("token", wrong), ("next", &page)]).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.body.contains("not accepted") && !refused.body.contains(wrong));
    assert!(browser.cookie.is_none());

    // The right one becomes an HttpOnly, SameSite=Strict session cookie (not Secure: plain HTTP).
    let signed_in = browser.post("/sign-in", &[("token", TOKEN_A), ("next", &page)]).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    assert_eq!(signed_in.header("location"), Some(page.as_str()));
    let cookie = signed_in.header("set-cookie").expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && !cookie.contains("Secure"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Expires") && !cookie.contains("Max-Age"),
        "a session cookie: {cookie}"
    );
    let shown = browser.get(&page).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.body.contains("Tenant <strong>a</strong>") && shown.body.contains("Sign out"));
    for body in [
        &form.body,
        &refused.body,
        &signed_in.body,
        &shown.body,
        &browser.get("/jobs").await.body,
    ] {
        assert!(
            !body.contains(TOKEN_A) && !body.contains(&hex_token),
            "the token is in a page"
        );
    }
    assert!(!location.contains(TOKEN_A));

    // Signing out ends the session.
    let csrf = shown.csrf();
    let out = browser.post("/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(browser.cookie.is_none(), "the cookie is cleared");
    assert_eq!(browser.get(&page).await.status, StatusCode::SEE_OTHER);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_send_the_header_and_a_revoked_token_stops_working_at_once() {
    let (world, browser, dir, id) = token_world().await;
    let addr = world.server.ui_addr.unwrap();

    let mut anonymous = Browser::new(addr);
    let request = anonymous
        .request(hyper::Method::GET, "/", "application/json")
        .body(super::client::empty())
        .unwrap();
    let answer = anonymous.send(request).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "a script is not redirected");
    assert_eq!(answer.header("www-authenticate"), Some("Bearer"));
    let (status, _) = anonymous.events(&format!("/distributions/{id}/events"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        Browser::script(addr, "wrong").get("/").await.status,
        StatusCode::UNAUTHORIZED
    );

    let mut script = Browser::script(addr, TOKEN_A);
    let page = script.get(&format!("/distributions/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.body.contains(r#"name="csrf""#),
        "a script has no session to protect"
    );
    // A script's header is not sent by a browser to another site, so it needs no form token.
    let cancelled = script
        .post(&format!("/distributions/{id}/cancel"), &[("confirm", "yes")])
        .await;
    assert_eq!(cancelled.status, StatusCode::SEE_OTHER, "{}", cancelled.body);

    // Revoking the token (the tokens file rewritten and reloaded, as SIGHUP does) ends the
    // browser's session at its next request.
    let mut browser = browser;
    browser.post("/sign-in", &[("token", TOKEN_A), ("next", "/")]).await;
    assert_eq!(browser.get("/").await.status, StatusCode::OK);
    write_tokens(&dir.path().join("tokens.json"), &[("b", TOKEN_B)]);
    world
        .server
        .tokens
        .as_ref()
        .expect("tokens")
        .reload()
        .expect("the reload");
    let after = browser.get("/").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert!(
        after.header("set-cookie").is_some_and(|c| c.contains("Max-Age=0")),
        "the dead session is cleared"
    );
    assert_eq!(script.get("/").await.status, StatusCode::UNAUTHORIZED);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenant_sees_none_of_it() {
    let (mut world, _, _dir, id) = token_world().await;
    let addr = world.server.ui_addr.unwrap();
    let distribution = world
        .client
        .get_distribution(bearer(
            proto::GetDistributionRequest {
                distribution_id: id.clone(),
            },
            TOKEN_A,
        ))
        .await
        .unwrap()
        .into_inner()
        .distribution
        .unwrap();
    let job = distribution.targets[0].job_id.clone();

    let mut b = Browser::new(addr);
    b.post("/sign-in", &[("token", TOKEN_B), ("next", "/")]).await;
    let home = b.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("Tenant <strong>b</strong>") && !home.body.contains(&id));
    assert!(!b.get("/jobs").await.body.contains(&job));
    let theirs = b.get(&format!("/distributions/{id}")).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert!(
        theirs.body.contains("There is no distribution"),
        "the same answer as for none"
    );
    assert_eq!(b.get(&format!("/jobs/{job}")).await.status, StatusCode::NOT_FOUND);
    let (status, _) = b.events(&format!("/distributions/{id}/events"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = b.events(&format!("/jobs/{job}/events"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, mut list) = b.events("/events/distributions", None).await;
    let rows = list.next().await.expect("rows");
    assert!(!rows.data.to_string().contains(&id));

    let csrf = home.csrf();
    for path in [
        format!("/jobs/{job}/cancel"),
        format!("/distributions/{id}/cancel"),
        format!("/distributions/{id}/retry"),
    ] {
        let answer = b.post(&path, &[("csrf", &csrf), ("confirm", "yes")]).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        let asked = b.post(&path, &[("csrf", &csrf)]).await;
        assert_eq!(asked.status, StatusCode::NOT_FOUND, "not even asked about: {path}");
    }
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_cross_site_post_is_refused() {
    let (mut world, mut browser) = world(Database::Sqlite, &["--max-concurrent-copies", "0"]).await;
    let copy = world
        .server
        .copy(crate::support::copy_request("forged"))
        .await
        .expect("a queued job");
    let page = browser.get(&format!("/jobs/{}", copy.job_id)).await;
    let csrf = page.csrf();
    let cancel = format!("/jobs/{}/cancel", copy.job_id);

    // The session cookie is SameSite=Strict, so another site's form would not even carry it;
    // with --auth none it is the form token that protects: without it, or with another
    // browser's, the post is refused.
    let cookie = browser.cookie.clone().expect("a session cookie");
    assert!(cookie.starts_with("amicopy_session="));
    let no_token = browser.post(&cancel, &[("confirm", "yes")]).await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    let mut other = Browser::new(world.server.ui_addr.unwrap());
    let other_csrf = other.get(&format!("/jobs/{}", copy.job_id)).await.csrf();
    assert_ne!(other_csrf, csrf, "a token per session");
    let wrong = browser
        .post(&cancel, &[("csrf", &other_csrf), ("confirm", "yes")])
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);

    // The right token from another origin, or marked cross-site by the browser, is refused too.
    let mut cross = browser.clone();
    cross.origin = "http://evil.example".to_owned();
    let forged = cross.post(&cancel, &[("csrf", &csrf), ("confirm", "yes")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.body.contains("another origin"), "{}", forged.body);
    let mut marked = browser.clone();
    let body = format!("csrf={csrf}&confirm=yes");
    let request = marked
        .request(hyper::Method::POST, &cancel, "text/html")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "cross-site")
        .body(http_body_util::BodyExt::boxed(http_body_util::BodyExt::map_err(
            http_body_util::Full::new(hyper::body::Bytes::from(body)),
            |never| match never {},
        )))
        .unwrap();
    assert_eq!(marked.send(request).await.status, StatusCode::FORBIDDEN);
    let job = world.server.job(&copy.job_id).await;
    assert_eq!(job.state, proto::CopyJobState::Queued as i32, "nothing was cancelled");

    // The page's own form, with its token, goes through.
    let done = browser.post(&cancel, &[("csrf", &csrf), ("confirm", "yes")]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    world.stop().await;
}

#[tokio::test]
async fn without_authentication_the_web_view_stays_on_loopback() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let config = |extra: &[&str]| {
        let mut args = vec!["amicopyd", "--listen", "127.0.0.1:0", "--data-dir", dir];
        args.extend_from_slice(extra);
        Config::try_parse_from(args).unwrap()
    };
    let Err(error) = App::build(config(&["--ui-listen", "0.0.0.0:0"])).await else {
        panic!("an open web view on every address must be refused");
    };
    let message = error.to_string();
    assert!(
        message.contains("--ui-listen") && message.contains("--allow-unauthenticated"),
        "{message}"
    );
    drop(
        App::build(config(&["--ui-listen", "[::1]:0"]))
            .await
            .expect("loopback is allowed"),
    );
    let app = App::build(config(&["--ui-listen", "0.0.0.0:0", "--allow-unauthenticated"]))
        .await
        .expect("allowed when asked for");
    assert!(app.ui_addr().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_the_client_certificate_names_the_tenant() {
    let pki = TestPki::new();
    let client = pki.client_pem_files("team-a");
    let flags = [
        "--ui-listen",
        "127.0.0.1:0",
        "--auth",
        "mtls",
        "--tls-cert",
        pki.server_cert_path.to_str().unwrap(),
        "--tls-key",
        pki.server_key_path.to_str().unwrap(),
        "--tls-client-ca",
        pki.ca_path.to_str().unwrap(),
    ];
    let (server, storage) = crate::support::start(Database::Sqlite, &flags).await;
    let addr = server.ui_addr.unwrap();
    let mut browser = Browser::tls(addr, client_config(&pki, Some(&client)));
    let home = browser.get("/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("Tenant <strong>team-a</strong>"), "{}", home.body);
    let cookie = home.header("set-cookie").expect("a session for the forms");
    assert!(cookie.contains("Secure") && cookie.contains("HttpOnly"), "{cookie}");

    // Without a certificate there is no connection at all, as on the gRPC port.
    let anonymous = client_config(&pki, None);
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let handshake = tokio_rustls::TlsConnector::from(std::sync::Arc::new(anonymous))
        .connect(name, stream)
        .await;
    let refused = match handshake {
        Err(_) => true,
        // TLS 1.3 reports the refusal on the first read.
        Ok(mut stream) => {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let _ = stream.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await;
            let mut buffer = [0u8; 64];
            !matches!(stream.read(&mut buffer).await, Ok(n) if n > 0)
        }
    };
    assert!(refused, "a connection without a client certificate must be refused");
    server.stop().await;
    storage.cleanup().await;
}

/// A rustls client that trusts the test CA, with `client` (certificate and key PEM files) if
/// given.
fn client_config(pki: &TestPki, client: Option<&(PathBuf, PathBuf)>) -> tokio_rustls::rustls::ClientConfig {
    use tokio_rustls::rustls::{
        ClientConfig, RootCertStore,
        pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    };
    amicopy::auth::mtls::install_crypto_provider();
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_file_iter(&pki.ca_path).unwrap() {
        roots.add(certificate.unwrap()).unwrap();
    }
    let builder = ClientConfig::builder().with_root_certificates(roots);
    match client {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_file_iter(cert)
                    .unwrap()
                    .map(Result::unwrap)
                    .collect(),
                PrivateKeyDer::from_pem_file(key).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    }
}
