//! CopyImageTags and TagSpecifications.

use super::*;
use crate::domain::Tag;

fn keys(tags: &[Tag]) -> Vec<&str> {
    let mut keys: Vec<&str> = tags.iter().map(|t| t.key.as_str()).collect();
    keys.sort_unstable();
    keys
}

#[tokio::test(start_paused = true)]
async fn copy_image_tags_copies_only_user_tags() {
    let sim = simulator(settings());
    let mut with_tags = input("with-tags");
    with_tags.copy_image_tags = true;
    let image_id = copy(&sim, with_tags).await.unwrap();
    let image = sim.image(&region("us-west-2"), &image_id).unwrap();
    assert_eq!(keys(&image.tags), ["Name", "env", "team"], "never the aws: tag");

    let without = copy(&sim, input("without-tags")).await.unwrap();
    assert!(sim.image(&region("us-west-2"), &without).unwrap().tags.is_empty());
}

#[tokio::test(start_paused = true)]
async fn another_accounts_tags_are_never_copied() {
    let sim = simulator(settings());
    let mut shared = input("from-shared");
    shared.source_image_id = "ami-0a1b2c3d4e5f60005".to_owned();
    shared.copy_image_tags = true;
    let image_id = copy(&sim, shared).await.unwrap();
    let image = sim.image(&region("us-west-2"), &image_id).unwrap();
    assert!(image.tags.is_empty(), "{:?}", image.tags);
    assert_eq!(image.owner_id, sim.account_id(), "the copy belongs to the caller");
}

#[tokio::test(start_paused = true)]
async fn tag_specifications_tag_the_image_and_every_new_snapshot() {
    let sim = simulator(settings());
    let mut tagged = input("tagged-copy");
    tagged.source_image_id = "ami-0a1b2c3d4e5f60002".to_owned();
    tagged.copy_image_tags = true;
    tagged.tag_specifications = vec![
        tag_spec("image", &[("team", "replicas"), ("purpose", "dr")]),
        tag_spec("snapshot", &[("backup", "yes")]),
    ];
    let image_id = copy(&sim, tagged).await.unwrap();
    let image = sim.image(&region("us-west-2"), &image_id).unwrap();
    assert_eq!(keys(&image.tags), ["purpose", "team"]);
    assert!(
        image.tags.contains(&Tag::new("team", "replicas")),
        "the request's tag wins: {:?}",
        image.tags
    );
    assert_eq!(image.snapshots.len(), 2);
    for snapshot in &image.snapshots {
        assert_eq!(snapshot.tags, vec![Tag::new("backup", "yes")]);
    }
}
