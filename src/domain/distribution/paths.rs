//! Field paths: a violation CopyImage's rules found in one target's copy, named where the
//! caller wrote the value in the distribution's request.

/// The distribution's path for `field` of the copy into `targets[i].regions[j]` (`region`).
/// The fields a target sets itself move to the target; the shared ones keep their name.
pub(super) fn rewrite(field: &str, i: usize, j: usize, region: &str) -> String {
    match field {
        "destination_region" => format!("targets[{i}].regions[{j}]"),
        "kms_key_id" => format!("targets[{i}].kms_key_ids[{region}]"),
        "destination_account_id" => format!("targets[{i}].account_id"),
        shared => shared.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_fields_move_to_their_target_and_shared_fields_keep_their_name() {
        let cases = [
            ("destination_region", "targets[2].regions[1]"),
            ("kms_key_id", "targets[2].kms_key_ids[eu-west-1]"),
            ("destination_account_id", "targets[2].account_id"),
            ("name", "name"),
            ("tag_specifications[0].tags[2].key", "tag_specifications[0].tags[2].key"),
            ("launch_permissions.user_ids[0]", "launch_permissions.user_ids[0]"),
            ("encrypted", "encrypted"),
        ];
        for (field, path) in cases {
            assert_eq!(rewrite(field, 2, 1, "eu-west-1"), path, "{field}");
        }
    }
}
