//! EC2 requests built from amicopy's: every CopyImage field, DescribeImages /
//! DescribeSnapshots filters, and launch permissions to add.

use aws_sdk_ec2::{
    operation::copy_image::builders::CopyImageInputBuilder,
    types::{
        Filter, LaunchPermission, LaunchPermissionModifications, PermissionGroup, ResourceType as Ec2ResourceType,
        Tag as Ec2Tag, TagSpecification as Ec2TagSpecification,
    },
};

use crate::{
    backend::StartCopy,
    domain::{Destination, LaunchPermissions, ResourceType, TagSpecification},
};

/// The CopyImage call for a copy, every field of the accepted request included. It is sent to
/// the client of the request's destination Region, which is where CopyImage must be called.
pub(super) fn copy_image(copy: &StartCopy) -> CopyImageInputBuilder {
    let request = &copy.request;
    let (outpost_arn, zone, zone_id) = match &request.destination {
        Destination::Region => (None, None, None),
        Destination::Outpost(arn) => (Some(arn.to_string()), None, None),
        Destination::AvailabilityZone(zone) => (None, Some(zone.clone()), None),
        Destination::AvailabilityZoneId(id) => (None, None, Some(id.clone())),
    };
    CopyImageInputBuilder::default()
        .source_image_id(request.source_image_id.as_str())
        .source_region(request.source_region.as_str())
        .name(request.name.as_str())
        .set_description(request.description.clone())
        .set_encrypted(request.encrypted)
        .set_kms_key_id(request.kms_key_id.as_ref().map(ToString::to_string))
        .set_destination_outpost_arn(outpost_arn)
        .set_destination_availability_zone(zone)
        .set_destination_availability_zone_id(zone_id)
        .copy_image_tags(request.copy_image_tags)
        .set_tag_specifications(tag_specifications(&request.tag_specifications))
        .set_snapshot_copy_completion_duration_minutes(request.snapshot_copy_completion_duration_minutes.map(i64::from))
        .client_token(copy.client_token.as_str())
        .dry_run(copy.dry_run)
}

fn tag_specifications(specs: &[TagSpecification]) -> Option<Vec<Ec2TagSpecification>> {
    if specs.is_empty() {
        return None;
    }
    let specs = specs
        .iter()
        .map(|spec| {
            let resource_type = match spec.resource_type {
                ResourceType::Image => Ec2ResourceType::Image,
                ResourceType::Snapshot => Ec2ResourceType::Snapshot,
            };
            let tags = spec
                .tags
                .iter()
                .map(|tag| Ec2Tag::builder().key(&tag.key).value(&tag.value).build())
                .collect();
            Ec2TagSpecification::builder()
                .resource_type(resource_type)
                .set_tags(Some(tags))
                .build()
        })
        .collect();
    Some(specs)
}

/// ModifyImageAttribute's `LaunchPermission.Add`: one entry per account, organization and OU,
/// and `Group: all` when public.
pub(super) fn launch_permission_add(permissions: &LaunchPermissions) -> LaunchPermissionModifications {
    let users = permissions
        .user_ids
        .iter()
        .map(|id| LaunchPermission::builder().user_id(id.as_str()).build());
    let organizations = permissions
        .organization_arns
        .iter()
        .map(|arn| LaunchPermission::builder().organization_arn(arn.as_str()).build());
    let units = permissions.organizational_unit_arns.iter().map(|arn| {
        LaunchPermission::builder()
            .organizational_unit_arn(arn.as_str())
            .build()
    });
    let public = permissions
        .public
        .then(|| LaunchPermission::builder().group(PermissionGroup::All).build());
    LaunchPermissionModifications::builder()
        .set_add(Some(users.chain(organizations).chain(units).chain(public).collect()))
        .build()
}

/// Most values sent in one Describe* filter; more ids take several calls. A conservative bound
/// (EC2 refuses over-long filter lists); the tracker's default batch of 100 images is one call.
pub(super) const MAX_FILTER_VALUES: usize = 200;

/// A Describe* filter matching any of `values`.
pub(super) fn filter(name: &str, values: &[impl AsRef<str>]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.iter().map(|value| value.as_ref().to_owned()).collect()))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CopyImageInput, CopyRequest, Region, Tag, TagSpecificationInput};

    fn start(input: CopyImageInput) -> StartCopy {
        StartCopy {
            request: CopyRequest::parse(input, &Region::parse("us-east-1").unwrap()).unwrap(),
            client_token: "amicopy-token".into(),
            dry_run: true,
        }
    }

    fn base() -> CopyImageInput {
        CopyImageInput {
            source_image_id: "ami-0123456789abcdef0".into(),
            source_region: "eu-west-1".into(),
            destination_region: "us-west-2".into(),
            name: "copy".into(),
            ..CopyImageInput::default()
        }
    }

    #[test]
    fn every_request_field_is_sent() {
        let input = CopyImageInput {
            description: "about".into(),
            encrypted: Some(true),
            kms_key_id: "alias/key".into(),
            copy_image_tags: true,
            snapshot_copy_completion_duration_minutes: Some(30),
            tag_specifications: vec![
                TagSpecificationInput {
                    resource_type: "image".into(),
                    tags: vec![Tag::new("a", "1")],
                },
                TagSpecificationInput {
                    resource_type: "snapshot".into(),
                    tags: vec![Tag::new("b", "")],
                },
            ],
            ..base()
        };
        let sent = copy_image(&start(input)).build().unwrap();
        assert_eq!(sent.source_image_id(), Some("ami-0123456789abcdef0"));
        assert_eq!(sent.source_region(), Some("eu-west-1"));
        assert_eq!(sent.name(), Some("copy"));
        assert_eq!(sent.description(), Some("about"));
        assert_eq!(sent.encrypted(), Some(true));
        assert_eq!(sent.kms_key_id(), Some("alias/key"));
        assert_eq!(sent.copy_image_tags(), Some(true));
        assert_eq!(sent.snapshot_copy_completion_duration_minutes(), Some(30));
        assert_eq!(sent.client_token(), Some("amicopy-token"));
        assert_eq!(sent.dry_run(), Some(true));
        let specs = sent.tag_specifications();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].resource_type(), Some(&Ec2ResourceType::Image));
        assert_eq!(specs[0].tags()[0].key(), Some("a"));
        assert_eq!(specs[1].resource_type(), Some(&Ec2ResourceType::Snapshot));
        assert_eq!(specs[1].tags()[0].value(), Some(""));
        assert_eq!(sent.destination_outpost_arn(), None);
    }

    #[test]
    fn unset_optional_fields_are_left_out() {
        let sent = copy_image(&start(base())).build().unwrap();
        assert_eq!(sent.description(), None);
        assert_eq!(sent.encrypted(), None);
        assert_eq!(sent.kms_key_id(), None);
        assert_eq!(sent.snapshot_copy_completion_duration_minutes(), None);
        assert!(sent.tag_specifications().is_empty());
        assert_eq!(sent.destination_availability_zone(), None);
    }

    #[test]
    fn destination_goes_to_its_own_field() {
        let outpost = "arn:aws:outposts:eu-west-1:123456789012:outpost/op-0123456789abcdef0";
        let sent = copy_image(&start(CopyImageInput {
            destination_outpost_arn: outpost.into(),
            destination_region: "eu-west-1".into(),
            ..base()
        }))
        .build()
        .unwrap();
        assert_eq!(sent.destination_outpost_arn(), Some(outpost));

        let sent = copy_image(&start(CopyImageInput {
            destination_availability_zone: "us-west-2-lax-1a".into(),
            ..base()
        }))
        .build()
        .unwrap();
        assert_eq!(sent.destination_availability_zone(), Some("us-west-2-lax-1a"));
        assert_eq!(sent.destination_availability_zone_id(), None);

        let sent = copy_image(&start(CopyImageInput {
            destination_availability_zone_id: "usw2-lax1-az1".into(),
            ..base()
        }))
        .build()
        .unwrap();
        assert_eq!(sent.destination_availability_zone_id(), Some("usw2-lax1-az1"));
    }

    #[test]
    fn launch_permissions_become_one_entry_each() {
        use crate::domain::{AccountId, OrganizationArn, OrganizationalUnitArn};
        let add = launch_permission_add(&LaunchPermissions {
            user_ids: vec![AccountId::parse("222233334444").unwrap()],
            organization_arns: vec![
                OrganizationArn::parse("arn:aws:organizations::111122223333:organization/o-abcde12345").unwrap(),
            ],
            organizational_unit_arns: vec![
                OrganizationalUnitArn::parse("arn:aws:organizations::111122223333:ou/o-abcde12345/ou-ab12-cdefgh34")
                    .unwrap(),
            ],
            public: true,
        });
        let entries = add.add();
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[0].user_id(), Some("222233334444"));
        assert!(
            entries[1]
                .organization_arn()
                .is_some_and(|arn| arn.ends_with("o-abcde12345"))
        );
        assert!(entries[2].organizational_unit_arn().is_some());
        assert_eq!(entries[3].group(), Some(&PermissionGroup::All));
        assert!(add.remove().is_empty());
    }

    #[test]
    fn filter_carries_every_value() {
        let filter = filter("image-id", &["ami-12345678", "ami-87654321"]);
        assert_eq!(filter.name(), Some("image-id"));
        assert_eq!(filter.values(), ["ami-12345678", "ami-87654321"]);
    }
}
