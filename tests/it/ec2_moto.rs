//! The real EC2 backend ([`SdkBackend`], aws-sdk-ec2) against moto's EC2 server.
//!
//! These tests check what the SDK sends and how its answers and errors are read. moto does not
//! model everything EC2 does; the simulator (`backend::sim`) and its tests cover these:
//! - ClientToken is ignored: the same token twice makes two images.
//! - Tags from TagSpecifications and CopyImageTags are not put on the copy.
//! - Encrypted and KmsKeyId are accepted but the copy's snapshots stay unencrypted.
//! - Copies are `available` at once and their snapshots report 100%: no `pending`, no failures.
//! - AMI names are not unique per Region (no InvalidAMIName.Duplicate).
//! - DescribeImages with an unknown id in ImageIds leaves it out instead of failing the call.
//! - A deregistered image disappears at once (EC2 may show it as `deregistered` for a while).
//! - Preloaded AMIs have 8-hex ids (`ami-1234abcd`), the same ids in every Region; copies get
//!   17-hex ids.
//!
//! Every test starts its own moto (a second or two) and fails when moto is missing, unless
//! `AMICOPY_SKIP_MOTO_TESTS=1`.

use amicopy::{
    backend::{
        BackendError, Ec2Backend, ImageState, StartCopy,
        ec2::{SdkBackend, assume_role},
    },
    domain::{CopyImageInput, CopyRequest, Region, Tag, TagSpecificationInput},
};
use amicopy_testing::moto::{MotoServer, moto_tests_skipped, test_sdk_config};

const SOURCE_REGION: &str = "us-east-1";
const DESTINATION_REGION: &str = "us-west-2";
const UNKNOWN_IMAGE: &str = "ami-0123456789abcdef0";

/// A started moto, or `None` when moto tests are skipped.
async fn moto() -> Option<MotoServer> {
    match MotoServer::start().await {
        Ok(moto) => Some(moto),
        Err(error) if moto_tests_skipped() => {
            eprintln!("skipping: {error}");
            None
        }
        Err(error) => panic!("{error}"),
    }
}

fn region(code: &str) -> Region {
    Region::parse(code).unwrap()
}

fn copy_of(source_image_id: &str, name: &str) -> CopyImageInput {
    CopyImageInput {
        source_image_id: source_image_id.into(),
        source_region: SOURCE_REGION.into(),
        destination_region: DESTINATION_REGION.into(),
        name: name.into(),
        ..CopyImageInput::default()
    }
}

fn start(input: CopyImageInput, token: &str) -> StartCopy {
    let dry_run = input.dry_run;
    StartCopy {
        request: CopyRequest::parse(input, &region(SOURCE_REGION)).unwrap(),
        client_token: token.into(),
        dry_run,
    }
}

#[tokio::test]
async fn copy_between_regions_is_read_back_with_describe_images() {
    let Some(moto) = moto().await else { return };
    let backend = moto.backend();
    let source = moto.source_image_id(SOURCE_REGION).await.unwrap();

    let image_id = backend
        .copy_image(&start(copy_of(&source, "copy-between-regions"), "token-1"))
        .await
        .unwrap();

    let images = backend
        .describe_images(&region(DESTINATION_REGION), std::slice::from_ref(&image_id))
        .await
        .unwrap();
    assert_eq!(images.len(), 1);
    let image = &images[0];
    assert_eq!(image.image_id, image_id);
    assert_eq!(image.name, "copy-between-regions");
    assert_eq!(image.state, ImageState::Available);
    assert!(image.creation_date.is_some());
    assert!(!image.snapshot_ids.is_empty());
    let in_source_region = backend
        .describe_images(&region(SOURCE_REGION), std::slice::from_ref(&image_id))
        .await
        .unwrap();
    assert!(
        in_source_region.is_empty(),
        "the copy is made in the destination Region only"
    );

    let mut snapshot_ids = image.snapshot_ids.clone();
    snapshot_ids.push("snap-0123456789abcdef0".into());
    let progress = backend
        .snapshot_progress(&region(DESTINATION_REGION), &snapshot_ids)
        .await
        .unwrap();
    assert_eq!(
        progress.len(),
        image.snapshot_ids.len(),
        "the unknown snapshot is left out"
    );
    assert!(progress.iter().all(|snapshot| snapshot.progress_percent == Some(100)));
}

#[tokio::test]
async fn every_request_field_is_accepted_and_the_description_arrives() {
    let Some(moto) = moto().await else { return };
    let backend = moto.backend();
    let source = moto.source_image_id(SOURCE_REGION).await.unwrap();
    let input = CopyImageInput {
        description: "copied by amicopy".into(),
        encrypted: Some(true),
        kms_key_id: "alias/amicopy".into(),
        copy_image_tags: true,
        tag_specifications: vec![
            TagSpecificationInput {
                resource_type: "image".into(),
                tags: vec![Tag::new("team", "images")],
            },
            TagSpecificationInput {
                resource_type: "snapshot".into(),
                tags: vec![Tag::new("team", "snapshots")],
            },
        ],
        snapshot_copy_completion_duration_minutes: Some(15),
        ..copy_of(&source, "copy-with-every-field")
    };

    let image_id = backend.copy_image(&start(input, "token-every-field")).await.unwrap();

    let described = moto
        .client(DESTINATION_REGION)
        .describe_images()
        .image_ids(&image_id)
        .send()
        .await
        .unwrap();
    assert_eq!(described.images()[0].description(), Some("copied by amicopy"));
}

#[tokio::test]
async fn describe_many_images_in_one_call_leaves_unknown_ids_out() {
    let Some(moto) = moto().await else { return };
    let backend = moto.backend();
    let source = moto.source_image_id(SOURCE_REGION).await.unwrap();
    let first = backend
        .copy_image(&start(copy_of(&source, "many-one"), "t1"))
        .await
        .unwrap();
    let second = backend
        .copy_image(&start(copy_of(&source, "many-two"), "t2"))
        .await
        .unwrap();

    let ids = [first.clone(), UNKNOWN_IMAGE.to_owned(), second.clone()];
    let images = backend
        .describe_images(&region(DESTINATION_REGION), &ids)
        .await
        .unwrap();

    let mut found: Vec<_> = images.into_iter().map(|image| image.image_id).collect();
    found.sort();
    let mut expected = vec![first, second];
    expected.sort();
    assert_eq!(found, expected);
}

#[tokio::test]
async fn more_ids_than_one_filter_holds_are_all_described() {
    let Some(moto) = moto().await else { return };
    let backend = moto.backend();
    let source = moto.source_image_id(SOURCE_REGION).await.unwrap();
    let first = backend
        .copy_image(&start(copy_of(&source, "first-of-many"), "t1"))
        .await
        .unwrap();
    let last = backend
        .copy_image(&start(copy_of(&source, "last-of-many"), "t2"))
        .await
        .unwrap();
    let mut ids = vec![first.clone()];
    ids.extend((0..248).map(|n| format!("ami-{n:017x}")));
    ids.push(last.clone());

    let images = backend
        .describe_images(&region(DESTINATION_REGION), &ids)
        .await
        .unwrap();

    let mut found: Vec<_> = images.into_iter().map(|image| image.image_id).collect();
    found.sort();
    let mut expected = vec![first, last];
    expected.sort();
    assert_eq!(found, expected);
}

#[tokio::test]
async fn assumed_role_acts_in_the_role_account() {
    let Some(moto) = moto().await else { return };
    let source = moto.source_image_id(SOURCE_REGION).await.unwrap();
    // STS is reached through the aws-config endpoint, here moto too; moto gives assumed-role
    // credentials the role's account.
    let base = test_sdk_config()
        .into_builder()
        .endpoint_url(moto.endpoint_url())
        .build();
    let config = assume_role(base, "arn:aws:iam::111111111111:role/copier").await;
    let assumed = SdkBackend::from_sdk_config(config, &moto.ec2_settings());

    let image_id = assumed
        .copy_image(&start(copy_of(&source, "copied-as-role"), "t1"))
        .await
        .unwrap();

    let copy = assumed
        .describe_source_image(&region(DESTINATION_REGION), &image_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(copy.owner_id, "111111111111");
    let as_default_account = moto
        .backend()
        .find_images_by_name(&region(DESTINATION_REGION), "copied-as-role")
        .await
        .unwrap();
    assert!(as_default_account.is_empty());
}

#[tokio::test]
async fn find_images_by_name_finds_own_copies_of_that_name_only() {
    let Some(moto) = moto().await else { return };
    let backend = moto.backend();
    let source = moto.source_image_id(SOURCE_REGION).await.unwrap();
    let wanted = backend
        .copy_image(&start(copy_of(&source, "find-me"), "t1"))
        .await
        .unwrap();
    backend
        .copy_image(&start(copy_of(&source, "not-me"), "t2"))
        .await
        .unwrap();

    let found = backend
        .find_images_by_name(&region(DESTINATION_REGION), "find-me")
        .await
        .unwrap();
    assert_eq!(
        found.iter().map(|image| image.image_id.as_str()).collect::<Vec<_>>(),
        [wanted.as_str()]
    );
    let elsewhere = backend
        .find_images_by_name(&region(SOURCE_REGION), "find-me")
        .await
        .unwrap();
    assert!(elsewhere.is_empty());
}

#[tokio::test]
async fn deregistered_copy_is_no_longer_available() {
    let Some(moto) = moto().await else { return };
    let backend = moto.backend();
    let source = moto.source_image_id(SOURCE_REGION).await.unwrap();
    let destination = region(DESTINATION_REGION);
    let image_id = backend
        .copy_image(&start(copy_of(&source, "to-deregister"), "t1"))
        .await
        .unwrap();

    backend.deregister_image(&destination, &image_id).await.unwrap();

    let images = backend
        .describe_images(&destination, std::slice::from_ref(&image_id))
        .await
        .unwrap();
    assert!(images.iter().all(|image| image.state == ImageState::Deregistered));
    let again = backend.deregister_image(&destination, &image_id).await.unwrap_err();
    assert!(again.code.starts_with("InvalidAMIID."), "{again:?}");
    assert!(!again.retryable);
}

#[tokio::test]
async fn missing_source_image_is_a_permanent_not_found() {
    let Some(moto) = moto().await else { return };
    let backend = moto.backend();

    let error = backend
        .copy_image(&start(copy_of(UNKNOWN_IMAGE, "copy-of-nothing"), "t1"))
        .await
        .unwrap_err();

    assert_eq!(error.code, "InvalidAMIID.NotFound");
    assert!(!error.retryable);
    assert!(!error.outcome_unknown);
    let source = backend
        .describe_source_image(&region(SOURCE_REGION), UNKNOWN_IMAGE)
        .await
        .unwrap();
    assert_eq!(source, None);
}

#[tokio::test]
async fn source_image_is_described_with_owner_and_state() {
    let Some(moto) = moto().await else { return };
    let backend = moto.backend();
    let source_id = moto.source_image_id(SOURCE_REGION).await.unwrap();

    let source = backend
        .describe_source_image(&region(SOURCE_REGION), &source_id)
        .await
        .unwrap()
        .unwrap();

    assert_eq!(source.image_id, source_id);
    assert_eq!(source.region, region(SOURCE_REGION));
    assert_eq!(source.state, ImageState::Available);
    assert!(!source.owner_id.is_empty());
    assert!(!source.encrypted);
    assert_eq!(source.outpost_arn, None);
}

#[tokio::test]
async fn dry_run_answers_dry_run_operation_and_copies_nothing() {
    let Some(moto) = moto().await else { return };
    let backend = moto.backend();
    let source = moto.source_image_id(SOURCE_REGION).await.unwrap();
    let input = CopyImageInput {
        dry_run: true,
        ..copy_of(&source, "dry-run-copy")
    };

    let error = backend.copy_image(&start(input, "t1")).await.unwrap_err();

    assert!(error.is_dry_run_success(), "{error:?}");
    let made = backend
        .find_images_by_name(&region(DESTINATION_REGION), "dry-run-copy")
        .await
        .unwrap();
    assert!(made.is_empty());
}

#[tokio::test]
async fn unreachable_endpoint_is_a_retryable_transport_error_with_unknown_outcome() {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = amicopy::backend::ec2::Ec2Settings {
        assume_role_arn: None,
        ec2_endpoint_url: Some(format!("http://127.0.0.1:{closed_port}")),
        ec2_timeout: std::time::Duration::from_secs(5),
    };
    let backend = SdkBackend::from_sdk_config(test_sdk_config(), &settings);

    let error = backend
        .copy_image(&start(copy_of("ami-12345678", "copy-to-nowhere"), "t1"))
        .await
        .unwrap_err();

    assert!(
        error.code == BackendError::CONNECTION || error.code == BackendError::TIMEOUT,
        "{error:?}"
    );
    assert!(error.retryable);
    assert!(error.outcome_unknown);
}

#[tokio::test]
async fn each_region_client_is_built_once_and_reused() {
    let Some(moto) = moto().await else { return };
    let backend = moto.backend();
    let (east, west) = (region(SOURCE_REGION), region(DESTINATION_REGION));
    assert_eq!(backend.clients_built(), 0);

    for _ in 0..3 {
        backend
            .describe_images(&east, &[UNKNOWN_IMAGE.to_owned()])
            .await
            .unwrap();
        backend.find_images_by_name(&west, "anything").await.unwrap();
    }

    assert_eq!(backend.clients_built(), 2);
}
