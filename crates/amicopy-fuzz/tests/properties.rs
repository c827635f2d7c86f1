//! Every fuzz target under proptest: arbitrary bytes (shrunk to a small case on failure) through
//! the validator against the oracle, the gRPC body path, settings, tokens and policy files.
//! `PROPTEST_CASES` sets how many cases each runs (the default here is CI's short run).

use amicopy_fuzz::{Target, targets};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(2_000);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn every_refused_request_names_exactly_its_bad_fields(data in prop::collection::vec(any::<u8>(), 0..4096)) {
        targets::validator(&data);
    }

    #[test]
    fn any_grpc_body_is_decoded_or_refused_without_a_panic(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        targets::grpc_body(&data);
    }

    #[test]
    fn any_settings_are_read_or_refused_without_a_panic(
        words in prop::collection::vec(
            prop_oneof![
                Just("--tick-seconds".to_owned()),
                Just("--lease-seconds".to_owned()),
                Just("--listen".to_owned()),
                Just("--request-timeout-seconds".to_owned()),
                Just("--http2-keepalive-seconds".to_owned()),
                Just("--sim-deny-source-regions".to_owned()),
                Just("--auth".to_owned()),
                Just("NaN".to_owned()),
                Just("-1".to_owned()),
                Just("1e309".to_owned()),
                "[ -~]{0,12}",
            ],
            0..8,
        ),
        file in prop_oneof![
            Just(None),
            Just(Some(r#"{"tick-seconds": -1, "listen": "x", "colour": 1}"#.to_owned())),
            Just(Some(r#"{"sim-deny-source-regions": [1, [2], {"a": null}], "backend": true}"#.to_owned())),
            Just(Some("[]".to_owned())),
            any::<String>().prop_map(Some),
        ],
    ) {
        let mut data = words.join("\n").into_bytes();
        if let Some(file) = file {
            data.push(0);
            data.extend(file.into_bytes());
        }
        targets::settings(&data);
    }

    #[test]
    fn any_tokens_file_is_read_or_refused_without_a_panic(
        data in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..512),
            "\\{\"tokens\": \\[(\\{\"tenant\": \"[ -~]{0,8}\", \"sha256\": \"[0-9a-fA-Fg]{0,66}\"\\},?){0,3}\\]\\}"
                .prop_map(String::into_bytes),
        ]
    ) {
        targets::tokens_file(&data);
    }

    #[test]
    fn any_policy_file_is_read_or_refused_without_a_panic(
        data in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..512),
            "\\{\"tenants\": \\{(\"[*a-z]{0,6}\": \\{(\"source_regions\": \\[\"[a-z0-9-]{0,12}\"\\])?\\},?){0,3}\\}\\}"
                .prop_map(String::into_bytes),
        ]
    ) {
        targets::policy_file(&data);
    }

    #[test]
    fn any_accounts_file_is_read_or_refused_without_a_panic(
        data in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..512),
            "\\{\"accounts\": \\[(\\{\"account_id\": \"[0-9]{10,13}\", \"role_arn\": \"arn:aws:iam::[0-9]{11,12}:role/[a-z]{0,4}\"(, \"share_source\": (true|false|1))?(, \"sim_kms_keys\": \\{\"[a-z0-9-]{0,12}\": \\[\"alias/[a-z]{0,4}\"\\]\\})?\\},?){0,3}\\]\\}"
                .prop_map(String::into_bytes),
        ]
    ) {
        targets::accounts_file(&data);
    }
}

#[test]
fn every_target_has_a_name_scripts_can_use() {
    for target in Target::ALL {
        assert_eq!(Target::from_name(target.name()), Some(target));
    }
}
