//! The fuzz targets: each takes arbitrary bytes, runs one of amicopyd's input paths on them, and
//! panics when a property fails (a panic is what fuzzers report). The same functions run under
//! AFL++ (`src/bin/fuzz.rs`) and under proptest (`tests/`).

use std::{collections::BTreeSet, io::Write, path::PathBuf};

use amicopy::{
    api::convert::copy_input,
    auth::{Policy, TokenStore},
    backend::accounts::Accounts,
    config::{Config, ConfigError},
    domain::{CopyImageInput, CopyRequest, Region},
    proto,
};
use arbitrary::Unstructured;
use prost::Message;

use crate::{input, oracle};

/// The service's default Region in every target.
pub const DEFAULT_REGION: &str = "us-east-1";

/// A named target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Structured CopyImage requests through the validator, against the oracle.
    Validator,
    /// Bytes as a `CopyImageRequest` message body: prost decoding, conversion, validation.
    GrpcBody,
    /// Command-line words and a `--config` JSON file through `Config::load_from`.
    Settings,
    /// A bearer tokens file.
    TokensFile,
    /// A policy file.
    PolicyFile,
    /// An accounts file.
    AccountsFile,
}

impl Target {
    /// Every target, in the order the scripts run them.
    pub const ALL: [Target; 6] = [
        Target::Validator,
        Target::GrpcBody,
        Target::Settings,
        Target::TokensFile,
        Target::PolicyFile,
        Target::AccountsFile,
    ];

    /// The name scripts use.
    pub fn name(self) -> &'static str {
        match self {
            Target::Validator => "validator",
            Target::GrpcBody => "grpc-body",
            Target::Settings => "settings",
            Target::TokensFile => "tokens-file",
            Target::PolicyFile => "policy-file",
            Target::AccountsFile => "accounts-file",
        }
    }

    /// The target with this name.
    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|target| target.name() == name)
    }

    /// Runs the target once on `data`.
    pub fn run(self, data: &[u8]) {
        match self {
            Target::Validator => validator(data),
            Target::GrpcBody => grpc_body(data),
            Target::Settings => settings(data),
            Target::TokensFile => tokens_file(data),
            Target::PolicyFile => policy_file(data),
            Target::AccountsFile => accounts_file(data),
        }
    }
}

fn default_region() -> Region {
    Region::parse(DEFAULT_REGION).expect("the default Region is valid")
}

/// How closely a refusal must match the oracle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// Accepted exactly when the oracle finds nothing wrong; refused naming exactly its fields.
    Exactly,
    /// Every field the oracle finds wrong is named (the request may set fields the oracle has no
    /// rules for, which may add violations of their own).
    AtLeast,
}

/// Parses `input` and checks the outcome against the oracle: accepted exactly when the oracle
/// finds nothing wrong, and refused naming exactly the fields the oracle finds wrong, each with
/// an EC2 code and a description.
pub fn check_request(input: CopyImageInput) {
    check_request_against_oracle(input, Match::Exactly);
}

/// [`check_request`] with the strictness `matching` asks for.
pub fn check_request_against_oracle(input: CopyImageInput, matching: Match) {
    let expected = oracle::bad_fields(&input, DEFAULT_REGION);
    match CopyRequest::parse(input.clone(), &default_region()) {
        Ok(request) => {
            assert!(
                expected.is_empty(),
                "accepted a request the rules refuse on {expected:?}: {input:#?}"
            );
            // An accepted request survives its round trip unchanged.
            let again = CopyRequest::parse(request.to_input(), &default_region())
                .unwrap_or_else(|e| panic!("an accepted request was refused on its round trip: {e}: {input:#?}"));
            assert_eq!(again, request, "the round trip changed the request");
        }
        Err(invalid) => {
            assert!(!invalid.violations.is_empty(), "a refusal with no violation");
            for violation in &invalid.violations {
                assert!(
                    !violation.code.is_empty() && !violation.description.is_empty(),
                    "a violation without code or description: {violation:?}"
                );
            }
            let named: BTreeSet<String> = invalid.violations.iter().map(|v| v.field.clone()).collect();
            match matching {
                Match::Exactly => assert_eq!(
                    named, expected,
                    "refused fields differ from the rules' (left: named, right: expected): {invalid:#?} for {input:#?}"
                ),
                Match::AtLeast => assert!(
                    named.is_superset(&expected),
                    "bad fields not named: {:?}: {invalid:#?} for {input:#?}",
                    expected.difference(&named).collect::<Vec<_>>()
                ),
            }
        }
    }
}

/// [`check_request`] on the request `data` builds.
pub fn validator(data: &[u8]) {
    let mut u = Unstructured::new(data);
    if let Ok(input) = input::copy_image_input(&mut u) {
        check_request(input);
    }
}

/// `data` as a gRPC message body: whatever prost decodes goes through the API's conversion and
/// the validator, as the server does; undecodable bytes are refused by prost without a panic.
/// A body may set any field of the message, including ones the oracle has no rules for, so a
/// refusal must name at least the fields the oracle finds wrong.
pub fn grpc_body(data: &[u8]) {
    if let Ok(request) = proto::CopyImageRequest::decode(data) {
        check_request_against_oracle(copy_input(request), Match::AtLeast);
    }
}

thread_local! {
    /// One scratch directory per thread, removed when the thread ends (a test's thread, say).
    static SCRATCH: tempfile::TempDir = tempfile::Builder::new()
        .prefix("amicopy-fuzz-")
        .tempdir()
        .expect("scratch directory");
}

/// A file in this thread's scratch directory, rewritten for every run.
fn scratch_file(name: &str, contents: &[u8]) -> PathBuf {
    SCRATCH.with(|dir| {
        let path = dir.path().join(name);
        let mut file = std::fs::File::create(&path).expect("scratch file");
        file.write_all(contents).expect("scratch file written");
        path
    })
}

/// The first part of `data` (up to a 0 byte) as command-line words split on newlines, the rest as
/// a `--config` file. Settings are read, never acted on; an accepted configuration's durations
/// are derived as the server derives them. Nothing may panic.
pub fn settings(data: &[u8]) {
    let (words, file) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    };
    let mut args: Vec<String> = vec!["amicopyd".to_owned()];
    args.extend(
        String::from_utf8_lossy(words)
            .split('\n')
            .filter(|word| !word.is_empty())
            .map(str::to_owned),
    );
    if let Some(file) = file {
        let path = scratch_file("settings.json", file);
        args.push("--config".to_owned());
        args.push(path.display().to_string());
    }
    match Config::load_from(&args) {
        Ok(config) => {
            // Accepted settings keep the promises their types make: every interval and timeout
            // that must be positive is (a zero tick would be a busy loop).
            let positive = [
                ("--tick-seconds", config.engine.tick),
                ("--lease-seconds", config.engine.lease),
                ("--retry-base-seconds", config.engine.retry_base),
                ("--retry-max-seconds", config.engine.retry_max),
                ("--track-min-interval-seconds", config.engine.track_min_interval),
                ("--request-timeout-seconds", config.limits.request_timeout),
                ("--database-timeout-seconds", config.database_timeout),
                ("--watch-poll-seconds", config.watch_poll),
                ("--metrics-refresh-seconds", config.metrics.metrics_refresh),
            ];
            for (flag, value) in positive {
                assert!(!value.is_zero(), "{flag} was accepted as zero");
            }
            let _ = config.limits.keepalive();
        }
        Err(ConfigError::Cli(error)) => {
            let _ = error.render();
        }
        Err(ConfigError::File(lines)) => {
            assert!(!lines.is_empty(), "a refused settings file with no reason");
            for line in lines {
                assert!(!line.contains('\n'), "a reason spans lines: {line:?}");
            }
        }
    }
}

/// `data` as a bearer tokens file: read without a panic, and when accepted, no token made of
/// `data`'s bytes maps to a tenant unless its hash is listed.
pub fn tokens_file(data: &[u8]) {
    let path = scratch_file("tokens.json", data);
    match TokenStore::load(path) {
        Ok(tokens) => {
            let probe = String::from_utf8_lossy(data);
            if let Some(tenant) = tokens.tenant_for(&probe) {
                assert!(!tenant.is_empty(), "a token maps to an empty tenant");
            }
            let _ = tokens.reload();
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
}

/// `data` as a policy file: read without a panic, and when accepted, checked against a valid
/// request for several tenants without a panic.
pub fn policy_file(data: &[u8]) {
    let path = scratch_file("policy.json", data);
    match Policy::load(&path) {
        Ok(policy) => {
            let request = CopyRequest::parse(
                CopyImageInput {
                    source_image_id: "ami-0abcdef1234567890".into(),
                    source_region: "us-west-2".into(),
                    name: "policy probe".into(),
                    encrypted: Some(true),
                    kms_key_id: "alias/aws/ebs".into(),
                    ..CopyImageInput::default()
                },
                &default_region(),
            )
            .expect("the probe request is valid");
            for tenant in ["default", "*", "team-a", ""] {
                if let Err(denial) = policy.check(tenant, &request) {
                    assert!(!denial.refusals.is_empty(), "a denial with no reason");
                }
            }
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
}

/// `data` as an accounts file: read without a panic; when accepted, every entry's role is in its
/// own account and a reload of the same file gives the same entries; when refused, the reason
/// names the file.
pub fn accounts_file(data: &[u8]) {
    let path = scratch_file("accounts.json", data);
    match Accounts::load(path.clone()) {
        Ok(accounts) => {
            let entries = accounts.all();
            for entry in entries.iter() {
                assert!(
                    entry.role_arn.contains(&format!(":{}:", entry.account_id)),
                    "a role outside its account was accepted: {entry:?}"
                );
            }
            assert_eq!(
                accounts.reload().ok(),
                Some(entries.len()),
                "the same file reloads the same"
            );
        }
        Err(error) => {
            let message = error.to_string();
            assert!(
                message.contains(&path.display().to_string()),
                "the reason names the file: {message}"
            );
        }
    }
}
