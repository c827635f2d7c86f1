//! The amicopy.v1 front door over a real gRPC connection: validation errors, DryRun, request ids,
//! health, and the job calls' argument checks.

use amicopy::proto::{self, Tag, TagSpecification};
use tonic::{Code, Request};
use tonic_types::StatusExt;

use crate::support::{Database, copy_request, start};

#[tokio::test]
async fn an_invalid_request_names_every_problem_at_once() {
    let (mut server, storage) = start(Database::Sqlite, &[]).await;
    let request = proto::CopyImageRequest {
        source_image_id: "ami-XYZ".to_owned(),
        source_region: "mars-1".to_owned(),
        name: "é".to_owned(),
        kms_key_id: "alias/my-key".to_owned(),
        tag_specifications: vec![TagSpecification {
            resource_type: "volume".to_owned(),
            tags: vec![Tag {
                key: "aws:owner".to_owned(),
                value: String::new(),
            }],
        }],
        ..Default::default()
    };
    let status = server.copy(request).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let details = status.get_error_details();
    let fields: Vec<String> = details
        .bad_request()
        .expect("BadRequest details")
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    for expected in [
        "source_image_id",
        "source_region",
        "name",
        "kms_key_id",
        "tag_specifications[0].resource_type",
        "tag_specifications[0].tags[0].key",
    ] {
        assert!(
            fields.iter().any(|f| f == expected),
            "{expected} missing from {fields:?}"
        );
    }
    let info = details.error_info().expect("ErrorInfo");
    assert_eq!(info.domain, "amicopy");
    assert_eq!(info.reason, "InvalidAMIID.Malformed");
    assert_eq!(
        info.metadata.get("source_region").map(String::as_str),
        Some("InvalidRegion")
    );
    assert!(status.metadata().get("x-request-id").is_some());

    let missing = server.copy(proto::CopyImageRequest::default()).await.unwrap_err();
    let info = missing.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.reason, "MissingParameter");
    assert_eq!(
        missing
            .get_details_bad_request()
            .expect("BadRequest")
            .field_violations
            .len(),
        3
    );

    let listed = list_all(&mut server).await;
    assert!(listed.is_empty(), "nothing is recorded for invalid requests");
    server.stop().await;
    storage.cleanup().await;
}

#[tokio::test]
async fn a_dry_run_answers_dry_run_operation_and_records_nothing() {
    let (mut server, storage) = start(Database::Sqlite, &[]).await;
    let mut request = copy_request("dry-run-copy");
    request.dry_run = true;
    let status = server.copy(request).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(
        status.get_details_error_info().expect("ErrorInfo").reason,
        "DryRunOperation"
    );

    let mut invalid = copy_request("x");
    invalid.dry_run = true;
    let status = server.copy(invalid).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "a DryRun checks the request too");

    assert!(list_all(&mut server).await.is_empty());
    server.stop().await;
    storage.cleanup().await;
}

#[tokio::test]
async fn the_request_id_is_returned_and_a_callers_own_is_honoured() {
    let (mut server, storage) = start(Database::Sqlite, &[]).await;
    let response = server.client.copy_image(copy_request("request-id-copy")).await.unwrap();
    let header = response
        .metadata()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(response.get_ref().request_id, header);
    assert!(uuid::Uuid::parse_str(&header).is_ok());

    let mut request = Request::new(proto::GetCopyJobRequest {
        job_id: response.get_ref().job_id.clone(),
    });
    request
        .metadata_mut()
        .insert("x-request-id", "caller-chosen-42".parse().unwrap());
    let answered = server.client.get_copy_job(request).await.unwrap();
    assert_eq!(answered.metadata().get("x-request-id").unwrap(), "caller-chosen-42");
    server.stop().await;
    storage.cleanup().await;
}

#[tokio::test]
async fn job_calls_reject_malformed_ids_and_unknown_jobs() {
    let (mut server, storage) = start(Database::Sqlite, &[]).await;
    let malformed = server
        .client
        .get_copy_job(proto::GetCopyJobRequest {
            job_id: "not-a-uuid".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert_eq!(
        malformed.get_details_bad_request().unwrap().field_violations[0].field,
        "job_id"
    );

    let unknown = uuid::Uuid::new_v4().to_string();
    let missing = server
        .client
        .cancel_copy_job(proto::CancelCopyJobRequest {
            job_id: unknown.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let watch = server
        .client
        .watch_copy_job(proto::WatchCopyJobRequest {
            job_id: unknown,
            after_sequence: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(watch.code(), Code::NotFound);

    let bad_page = server
        .client
        .list_copy_jobs(proto::ListCopyJobsRequest {
            page_token: "garbage".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_page.code(), Code::InvalidArgument);
    let bad_filter = server
        .client
        .list_copy_jobs(proto::ListCopyJobsRequest {
            source_region: "nowhere".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_filter.code(), Code::InvalidArgument);
    server.stop().await;
    storage.cleanup().await;
}

#[tokio::test]
async fn health_reports_serving_once_the_store_answers() {
    let (server, storage) = start(Database::Sqlite, &[]).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let deadline = tokio::time::Instant::now() + crate::support::JOB_DEADLINE;
    loop {
        let answer = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: "amicopy.v1.ImageCopyService".to_owned(),
            })
            .await
            .unwrap()
            .into_inner();
        if answer.status == tonic_health::pb::health_check_response::ServingStatus::Serving as i32 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never SERVING");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    server.stop().await;
    storage.cleanup().await;
}

async fn list_all(server: &mut crate::support::TestServer) -> Vec<proto::CopyJob> {
    server
        .client
        .list_copy_jobs(proto::ListCopyJobsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .jobs
}
