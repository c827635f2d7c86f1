//! DeregisterImage, with or without DeleteAssociatedSnapshots: a pending copy stops where it is
//! and frees its concurrency slot; with the flag its snapshots go too, except one another image
//! still uses.

use super::{
    region::Api,
    state::{Caller, Fixed, Now, SimState, answer},
};
use crate::{
    backend::{BackendError, SnapshotDeletion},
    domain::Region,
};

/// EC2's return code for a snapshot it left in place because another image uses it.
const SKIPPED: &str = "skipped";

impl SimState {
    /// DeregisterImage. With `delete_snapshots`, says what became of each snapshot.
    pub(super) fn deregister_image(
        &mut self,
        fixed: &Fixed,
        caller: &Caller,
        region: &Region,
        image_id: &str,
        delete_snapshots: bool,
        now: Now,
    ) -> Result<Vec<SnapshotDeletion>, BackendError> {
        let lost_answer = self.admit(fixed, Api::DeregisterImage, caller, region, now)?;
        let image = self.owned_image(fixed, caller, region, image_id, now, "deregister")?;
        image.deregistered_at = Some(now.sim);
        let snapshot_ids = image.snapshot_ids();
        self.region(fixed, region).deregistered(image_id);
        tracing::debug!(image_id, %region, delete_snapshots, "simulated image deregistered");
        let mut deletions = Vec::new();
        if delete_snapshots {
            let state = self.region(fixed, region);
            for snapshot_id in snapshot_ids {
                let used_elsewhere = state.images.values().any(|other| {
                    other.id != image_id && other.is_live() && other.snapshots.iter().any(|s| s.id == snapshot_id)
                });
                let return_code = match state.snapshots.get_mut(&snapshot_id) {
                    Some(record) if !used_elsewhere => {
                        record.deleted = true;
                        SnapshotDeletion::SUCCESS
                    }
                    _ => SKIPPED,
                };
                deletions.push(SnapshotDeletion {
                    snapshot_id,
                    return_code: return_code.to_owned(),
                });
            }
        }
        answer(lost_answer)?;
        Ok(deletions)
    }
}
