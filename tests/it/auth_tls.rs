//! TLS over a real connection with certificates made for the test: mutual TLS names the tenant
//! from the client certificate and refuses a client without one; server TLS alone carries
//! bearer tokens.

use amicopy::proto::{self, image_copy_service_client::ImageCopyServiceClient};
use tonic::{Code, transport::Channel};

use crate::support::{
    Database, TestServer, TestStorage,
    auth::{TOKEN_A, assert_auth_failure, list, token_server},
    copy_request,
    tls::TestPki,
};

async fn mtls_client(pki: &TestPki, server: &TestServer, tenant: &str) -> ImageCopyServiceClient<Channel> {
    pki.client(server.addr, Some(pki.client_identity(tenant)))
        .await
        .expect("TLS client connects")
}

#[tokio::test]
async fn a_client_certificate_names_the_tenant_and_no_certificate_is_refused() {
    let pki = TestPki::new();
    let flags = pki.server_flags(true);
    let storage = TestStorage::new(Database::Sqlite).await;
    let server = storage
        .start(&flags.iter().map(String::as_str).collect::<Vec<_>>(), None)
        .await;

    let mut a = mtls_client(&pki, &server, "team-a.example").await;
    let mut b = mtls_client(&pki, &server, "team-b.example").await;
    let job = a
        .copy_image(copy_request("mtls-copy"))
        .await
        .unwrap()
        .into_inner()
        .job_id;
    assert_eq!(
        a.list_copy_jobs(proto::ListCopyJobsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .jobs
            .len(),
        1
    );
    let other = b
        .get_copy_job(proto::GetCopyJobRequest { job_id: job })
        .await
        .unwrap_err();
    assert_eq!(other.code(), Code::NotFound);
    assert!(
        b.list_copy_jobs(proto::ListCopyJobsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .jobs
            .is_empty()
    );

    let refused = match pki.client(server.addr, None).await {
        Err(_) => true,
        Ok(mut anonymous) => anonymous
            .list_copy_jobs(proto::ListCopyJobsRequest::default())
            .await
            .is_err(),
    };
    assert!(refused, "a client without a certificate must not get an answer");
    server.stop().await;
    storage.cleanup().await;
}

#[tokio::test]
async fn server_tls_alone_carries_bearer_tokens() {
    let pki = TestPki::new();
    let flags = pki.server_flags(false);
    let (server, storage, _dir) =
        token_server(Database::Sqlite, &flags.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let mut client = pki
        .client(server.addr, None)
        .await
        .expect("TLS without a client certificate");
    client.list_copy_jobs(list(TOKEN_A)).await.expect("a token over TLS");
    let missing = client
        .list_copy_jobs(proto::ListCopyJobsRequest::default())
        .await
        .unwrap_err();
    assert_auth_failure(&missing, "Bearer");
    server.stop().await;
    storage.cleanup().await;
}
