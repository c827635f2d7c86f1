//! TEMP
#[derive(clap::Args, Debug, Clone)]
pub struct Ec2Settings {
    #[arg(long, default_value_t = 30.0)]
    pub ec2_timeout_seconds: f64,
}
pub struct SdkBackend;
impl SdkBackend {
    pub async fn new(_s: &Ec2Settings) -> Self {
        Self
    }
}
#[async_trait::async_trait]
impl super::Ec2Backend for SdkBackend {
    async fn copy_image(&self, _c: &super::StartCopy) -> Result<String, super::BackendError> {
        unimplemented!()
    }
    async fn describe_images(
        &self,
        _r: &crate::domain::Region,
        _i: &[String],
    ) -> Result<Vec<super::ImageStatus>, super::BackendError> {
        unimplemented!()
    }
    async fn find_images_by_name(
        &self,
        _r: &crate::domain::Region,
        _n: &str,
    ) -> Result<Vec<super::ImageStatus>, super::BackendError> {
        unimplemented!()
    }
    async fn snapshot_progress(
        &self,
        _r: &crate::domain::Region,
        _s: &[String],
    ) -> Result<Vec<super::SnapshotProgress>, super::BackendError> {
        unimplemented!()
    }
    async fn deregister_image(&self, _r: &crate::domain::Region, _i: &str) -> Result<(), super::BackendError> {
        unimplemented!()
    }
    async fn describe_source_image(
        &self,
        _r: &crate::domain::Region,
        _i: &str,
    ) -> Result<Option<super::SourceImage>, super::BackendError> {
        unimplemented!()
    }
}
