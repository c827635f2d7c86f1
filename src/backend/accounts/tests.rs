//! The accounts file: what it accepts, how its mistakes are reported, and reloading.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{file::parse, *};

const ONE: &str = r#"{"accounts":[{"account_id":"222233334444","role_arn":"arn:aws:iam::222233334444:role/amicopy",
    "external_id":"ext-123","share_source":true}]}"#;

fn problems(text: &str) -> Vec<String> {
    parse(text).unwrap_err()
}

fn account(id: &str) -> AccountId {
    AccountId::parse(id).unwrap()
}

#[test]
fn the_documented_entry_is_read_with_every_key() {
    let entries = parse(ONE).unwrap();
    assert_eq!(
        entries,
        [AccountEntry {
            account_id: account("222233334444"),
            role_arn: "arn:aws:iam::222233334444:role/amicopy".to_owned(),
            external_id: Some("ext-123".to_owned()),
            share_source: true,
            sim: SimAccountSettings::default(),
        }]
    );
}

#[test]
fn optional_keys_default_to_no_external_id_and_no_sharing() {
    let entries = parse(
        r#"{"accounts":[{"account_id":"222233334444","role_arn":"arn:aws:iam::222233334444:role/path/amicopy"}]}"#,
    )
    .unwrap();
    assert_eq!(entries[0].external_id, None);
    assert!(!entries[0].share_source);
    assert!(parse(r#"{"accounts":[]}"#).unwrap().is_empty());
}

#[test]
fn simulator_keys_are_read() {
    let entries = parse(
        r#"{"accounts":[{"account_id":"222233334444","role_arn":"arn:aws:iam::222233334444:role/amicopy",
            "sim_kms_keys":{"eu-west-1":["alias/team-key","1234abcd-12ab-34cd-56ef-1234567890ab"]},
            "sim_organization_arn":"arn:aws:organizations::111122223333:organization/o-amicopysim",
            "sim_organizational_unit_arns":["arn:aws:organizations::111122223333:ou/o-amicopysim/ou-ab12-teamunit1"]}]}"#,
    )
    .unwrap();
    let sim = &entries[0].sim;
    assert_eq!(
        sim.kms_keys[&Region::parse("eu-west-1").unwrap()],
        ["alias/team-key", "1234abcd-12ab-34cd-56ef-1234567890ab"]
    );
    assert!(sim.organization_arn.is_some());
    assert_eq!(sim.organizational_unit_arns.len(), 1);
}

#[test]
fn unknown_keys_are_refused_by_name_with_the_entry() {
    let found = problems(
        r#"{"accounts":[{"account_id":"222233334444","role_arn":"arn:aws:iam::222233334444:role/amicopy",
            "share_sauce":true,"colour":"red"}]}"#,
    );
    assert_eq!(found.len(), 1, "{found:?}");
    let message = &found[0];
    assert!(message.starts_with(r#"entry 1 (account "222233334444")"#), "{message}");
    assert!(
        message.contains(r#""share_sauce""#) && message.contains(r#""colour""#),
        "{message}"
    );
    assert!(message.contains("share_source"), "the known keys are listed: {message}");

    let top = problems(r#"{"accounts":[],"acounts":[]}"#);
    assert!(top[0].contains(r#""acounts""#), "{top:?}");
}

#[test]
fn every_bad_value_is_reported_naming_its_entry() {
    let found = problems(
        r#"{"accounts":[
            {"account_id":"222233334444","role_arn":"arn:aws:iam::222233334444:role/amicopy"},
            {"account_id":"12345","role_arn":"arn:aws:iam::12345:role/x"},
            {"account_id":"333344445555","role_arn":"arn:aws:iam::999988887777:role/amicopy","external_id":"x"},
            {"account_id":"444455556666","role_arn":"not-an-arn","sim_kms_keys":{"mars-1":["alias/k"],"eu-west-1":["alias/aws/ebs"]}},
            {"account_id":"222233334444","role_arn":"arn:aws:iam::222233334444:role/amicopy"},
            {"role_arn":"arn:aws:iam::222233334444:role/amicopy"},
            "222233334444"
        ]}"#,
    );
    let joined = found.join("\n");
    let has = |entry: &str, text: &str| {
        assert!(
            found.iter().any(|line| line.starts_with(entry) && line.contains(text)),
            "no problem for {entry} mentioning {text:?}:\n{joined}"
        );
    };
    has(r#"entry 2 (account "12345")"#, "12 digits");
    has(r#"entry 3 (account "333344445555")"#, "in account 999988887777");
    has(r#"entry 3 (account "333344445555")"#, "external_id");
    has(r#"entry 4 (account "444455556666")"#, "IAM role ARN");
    has(r#"entry 4 (account "444455556666")"#, "mars-1");
    has(r#"entry 4 (account "444455556666")"#, "alias/aws/ebs");
    has(r#"entry 5 (account "222233334444")"#, "already listed by entry 1");
    has("entry 6", "account_id");
    has("entry 7", "expected an object");
    assert!(!joined.contains("entry 1 "), "entry 1 is fine:\n{joined}");
}

#[test]
fn a_file_that_is_not_the_expected_json_says_so() {
    assert!(problems("{").iter().any(|p| p.contains("not valid JSON")));
    assert!(problems("[]").iter().any(|p| p.contains("one JSON object")));
    assert!(problems("{}").iter().any(|p| p.contains(r#""accounts" is missing"#)));
    assert!(problems(r#"{"accounts":{}}"#).iter().any(|p| p.contains("list")));
}

#[test]
fn errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accounts.json");
    let missing = Accounts::load(path.clone()).unwrap_err();
    assert!(missing.to_string().contains("accounts.json"), "{missing}");
    std::fs::write(&path, r#"{"accounts":[{"account_id":"1"}]}"#).unwrap();
    let invalid = Accounts::load(path).unwrap_err().to_string();
    assert!(
        invalid.starts_with("invalid accounts file ")
            && invalid.contains("accounts.json")
            && invalid.contains("entry 1"),
        "{invalid}"
    );
}

#[test]
fn without_a_file_there_are_no_accounts() {
    let accounts = AccountsSettings::default().load().unwrap();
    assert!(accounts.all().is_empty() && accounts.path().is_none());
    assert_eq!(accounts.reload().unwrap(), 0);
}

#[test]
fn a_bad_file_on_reload_keeps_the_accounts_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accounts.json");
    std::fs::write(&path, ONE).unwrap();
    let accounts = Accounts::load(path.clone()).unwrap();
    std::fs::write(&path, r#"{"accounts":[{"account_id":"oops"}]}"#).unwrap();
    assert!(accounts.reload().is_err());
    assert!(
        accounts.get(&account("222233334444")).is_some(),
        "the old accounts stay"
    );
    reload::reload_logged(&accounts);
    assert!(accounts.get(&account("222233334444")).is_some());

    std::fs::write(
        &path,
        r#"{"accounts":[{"account_id":"333344445555","role_arn":"arn:aws:iam::333344445555:role/amicopy"}]}"#,
    )
    .unwrap();
    assert_eq!(accounts.reload().unwrap(), 1);
    assert!(accounts.get(&account("222233334444")).is_none());
    assert!(accounts.find("333344445555").is_some());
}

#[tokio::test]
async fn each_signal_rereads_the_file_and_clones_see_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accounts.json");
    std::fs::write(&path, ONE).unwrap();
    let accounts = Accounts::load(path.clone()).unwrap();
    let seen_elsewhere = accounts.clone();
    let (send, receive) = tokio::sync::mpsc::unbounded_channel();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(reload::reload_on(
        accounts,
        tokio_stream::wrappers::UnboundedReceiverStream::new(receive),
        shutdown.clone(),
    ));

    std::fs::write(&path, r#"{"accounts":[]}"#).unwrap();
    assert_eq!(seen_elsewhere.all().len(), 1, "nothing changes before the signal");
    send.send(()).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen_elsewhere.all().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the signal never reloaded the file"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    shutdown.cancel();
    task.await.unwrap();
}
