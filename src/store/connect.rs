//! TEMP
use super::{JobStore, StoreError};
use std::{path::Path, sync::Arc, time::Duration};
pub async fn connect(_u: Option<&str>, _d: &Path, _t: Duration) -> Result<Arc<dyn JobStore>, StoreError> {
    unimplemented!()
}
pub fn redact_url(u: &str) -> String {
    u.to_owned()
}
