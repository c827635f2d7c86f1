//! The simulator's knobs, as command-line flags and `AMICOPY_SIM_*` environment variables.

use std::path::PathBuf;

use super::SimError;

/// How the simulated EC2 behaves: how fast copies go, which faults it injects, which limits it
/// enforces and which images it holds. Times are simulated seconds unless a doc says otherwise.
#[derive(clap::Args, Debug, Clone)]
pub struct SimSettings {
    /// Simulated seconds a copy takes from CopyImage to `available`.
    #[arg(long, env = "AMICOPY_SIM_COPY_SECONDS", default_value = "30", value_parser = crate::flags::non_negative, allow_negative_numbers = true)]
    pub sim_copy_seconds: f64,
    /// Simulated seconds per real second: 20 makes a 30 s copy take 1.5 real seconds (and
    /// refills the request-rate buckets 20 times as fast).
    #[arg(long, env = "AMICOPY_SIM_TIME_FACTOR", default_value = "1", value_parser = crate::flags::positive, allow_negative_numbers = true)]
    pub sim_time_factor: f64,
    /// Share (0 to 1) of calls answered at random with RequestLimitExceeded, InternalError or
    /// Unavailable. Some CopyImage faults come after the copy was made, as from a real EC2 that
    /// lost its answer.
    #[arg(long, env = "AMICOPY_SIM_TRANSIENT_ERROR_RATE", default_value = "0", value_parser = crate::flags::share, allow_negative_numbers = true)]
    pub sim_transient_error_rate: f64,
    /// Share (0 to 1) of started copies that end `failed` with a StateReason.
    #[arg(long, env = "AMICOPY_SIM_COPY_FAILURE_RATE", default_value = "0", value_parser = crate::flags::share, allow_negative_numbers = true)]
    pub sim_copy_failure_rate: f64,
    /// Seed of the random faults and generated ids, for runs that repeat exactly; random when
    /// not given.
    #[arg(long, env = "AMICOPY_SIM_SEED")]
    pub sim_seed: Option<u64>,
    /// JSON file of source images and KMS keys that replaces the built-in catalogue (same format
    /// as src/backend/sim/catalogue.json).
    #[arg(long, env = "AMICOPY_SIM_CATALOGUE")]
    pub sim_catalogue: Option<PathBuf>,
    /// The simulator's own AWS account id: the service's own account, owner of the catalogue.
    /// The accounts of --accounts-file exist beside it in the same simulated world.
    #[arg(long, env = "AMICOPY_SIM_ACCOUNT_ID", default_value = "111122223333")]
    pub sim_account_id: String,
    /// Simulated seconds a new image stays invisible to DescribeImages (EC2's eventual
    /// consistency).
    #[arg(long, env = "AMICOPY_SIM_VISIBILITY_DELAY_SECONDS", default_value = "0", value_parser = crate::flags::non_negative, allow_negative_numbers = true)]
    pub sim_visibility_delay_seconds: f64,
    /// Simulated seconds after a copy turns `available` during which EC2 has not caught up:
    /// ModifyImageAttribute, DescribeImageAttribute and EnableImageDeprecation on it answer
    /// InvalidAMIID.NotFound (first half) or InvalidAMIID.Unavailable (second half), and
    /// Modify/DescribeSnapshotAttribute on its snapshots InvalidSnapshot.NotFound.
    #[arg(long, env = "AMICOPY_SIM_SETTLE_SECONDS", default_value = "5", value_parser = crate::flags::non_negative, allow_negative_numbers = true)]
    pub sim_settle_seconds: f64,
    /// Copies in progress at once per account and destination Region; more answer
    /// ResourceLimitExceeded.
    #[arg(long, env = "AMICOPY_SIM_MAX_CONCURRENT_COPIES", default_value_t = 300)]
    pub sim_max_concurrent_copies: u32,
    /// CopyImage request bucket size per Region.
    #[arg(long, env = "AMICOPY_SIM_COPY_IMAGE_BURST", default_value_t = 100)]
    pub sim_copy_image_burst: u32,
    /// CopyImage requests per simulated second the bucket regains.
    #[arg(long, env = "AMICOPY_SIM_COPY_IMAGE_REFILL", default_value = "1", value_parser = crate::flags::positive, allow_negative_numbers = true)]
    pub sim_copy_image_refill: f64,
    /// DescribeImages request bucket size per Region.
    #[arg(long, env = "AMICOPY_SIM_DESCRIBE_IMAGES_BURST", default_value_t = 100)]
    pub sim_describe_images_burst: u32,
    /// DescribeImages requests per simulated second the bucket regains.
    #[arg(long, env = "AMICOPY_SIM_DESCRIBE_IMAGES_REFILL", default_value = "20", value_parser = crate::flags::positive, allow_negative_numbers = true)]
    pub sim_describe_images_refill: f64,
    /// DescribeSnapshots request bucket size per Region.
    #[arg(long, env = "AMICOPY_SIM_DESCRIBE_SNAPSHOTS_BURST", default_value_t = 100)]
    pub sim_describe_snapshots_burst: u32,
    /// DescribeSnapshots requests per simulated second the bucket regains.
    #[arg(long, env = "AMICOPY_SIM_DESCRIBE_SNAPSHOTS_REFILL", default_value = "20", value_parser = crate::flags::positive, allow_negative_numbers = true)]
    pub sim_describe_snapshots_refill: f64,
    /// DeregisterImage request bucket size per Region.
    #[arg(long, env = "AMICOPY_SIM_DEREGISTER_IMAGE_BURST", default_value_t = 100)]
    pub sim_deregister_image_burst: u32,
    /// DeregisterImage requests per simulated second the bucket regains.
    #[arg(long, env = "AMICOPY_SIM_DEREGISTER_IMAGE_REFILL", default_value = "5", value_parser = crate::flags::positive, allow_negative_numbers = true)]
    pub sim_deregister_image_refill: f64,
    /// Request bucket size per account and Region of each mutating finishing call
    /// (ModifyImageAttribute, ModifySnapshotAttribute, EnableImageDeprecation), one bucket each.
    #[arg(long, env = "AMICOPY_SIM_MODIFY_ATTRIBUTE_BURST", default_value_t = 50)]
    pub sim_modify_attribute_burst: u32,
    /// Requests per simulated second each of those buckets regains.
    #[arg(long, env = "AMICOPY_SIM_MODIFY_ATTRIBUTE_REFILL", default_value = "5", value_parser = crate::flags::positive, allow_negative_numbers = true)]
    pub sim_modify_attribute_refill: f64,
    /// Request bucket size per account and Region of DescribeImageAttribute and of
    /// DescribeSnapshotAttribute, one bucket each.
    #[arg(long, env = "AMICOPY_SIM_DESCRIBE_ATTRIBUTE_BURST", default_value_t = 100)]
    pub sim_describe_attribute_burst: u32,
    /// Requests per simulated second each of those buckets regains.
    #[arg(long, env = "AMICOPY_SIM_DESCRIBE_ATTRIBUTE_REFILL", default_value = "20", value_parser = crate::flags::positive, allow_negative_numbers = true)]
    pub sim_describe_attribute_refill: f64,
    /// KMS DescribeKey request bucket size per account and Region (throttled with
    /// ThrottlingException, as KMS does).
    #[arg(long, env = "AMICOPY_SIM_DESCRIBE_KEY_BURST", default_value_t = 100)]
    pub sim_describe_key_burst: u32,
    /// KMS DescribeKey requests per simulated second the bucket regains.
    #[arg(long, env = "AMICOPY_SIM_DESCRIBE_KEY_REFILL", default_value = "50", value_parser = crate::flags::positive, allow_negative_numbers = true)]
    pub sim_describe_key_refill: f64,
    /// Source Regions the caller may not copy from (comma-separated): CopyImage, DryRun
    /// included, answers UnauthorizedOperation.
    #[arg(long, env = "AMICOPY_SIM_DENY_SOURCE_REGIONS", value_delimiter = ',')]
    pub sim_deny_source_regions: Vec<String>,
}

impl Default for SimSettings {
    /// EC2's own defaults, in real time, without faults.
    fn default() -> Self {
        Self {
            sim_copy_seconds: 30.0,
            sim_time_factor: 1.0,
            sim_transient_error_rate: 0.0,
            sim_copy_failure_rate: 0.0,
            sim_seed: None,
            sim_catalogue: None,
            sim_account_id: "111122223333".to_owned(),
            sim_visibility_delay_seconds: 0.0,
            sim_settle_seconds: 5.0,
            sim_max_concurrent_copies: 300,
            sim_copy_image_burst: 100,
            sim_copy_image_refill: 1.0,
            sim_describe_images_burst: 100,
            sim_describe_images_refill: 20.0,
            sim_describe_snapshots_burst: 100,
            sim_describe_snapshots_refill: 20.0,
            sim_deregister_image_burst: 100,
            sim_deregister_image_refill: 5.0,
            sim_modify_attribute_burst: 50,
            sim_modify_attribute_refill: 5.0,
            sim_describe_attribute_burst: 100,
            sim_describe_attribute_refill: 20.0,
            sim_describe_key_burst: 100,
            sim_describe_key_refill: 50.0,
            sim_deny_source_regions: Vec::new(),
        }
    }
}

impl SimSettings {
    /// Fast and faultless: time runs 20 times as fast and a copy takes 20 simulated seconds
    /// (one real second).
    #[cfg(test)]
    pub(crate) fn fast_for_tests() -> Self {
        Self {
            sim_time_factor: 20.0,
            sim_copy_seconds: 20.0,
            ..Self::default()
        }
    }

    /// Refuses settings the simulator cannot honour, naming the flag.
    pub(super) fn check(&self) -> Result<(), SimError> {
        let bad = |flag: &'static str, message: &str| {
            Err(SimError::Setting {
                flag,
                message: message.to_owned(),
            })
        };
        let finite_non_negative = |v: f64| v.is_finite() && v >= 0.0;
        if !finite_non_negative(self.sim_copy_seconds) {
            return bad("--sim-copy-seconds", "must be a number of seconds, 0 or more");
        }
        if !(self.sim_time_factor.is_finite() && self.sim_time_factor > 0.0) {
            return bad("--sim-time-factor", "must be more than 0");
        }
        if !(0.0..=1.0).contains(&self.sim_transient_error_rate) {
            return bad("--sim-transient-error-rate", "must be between 0 and 1");
        }
        if !(0.0..=1.0).contains(&self.sim_copy_failure_rate) {
            return bad("--sim-copy-failure-rate", "must be between 0 and 1");
        }
        if !finite_non_negative(self.sim_visibility_delay_seconds) {
            return bad(
                "--sim-visibility-delay-seconds",
                "must be a number of seconds, 0 or more",
            );
        }
        if !finite_non_negative(self.sim_settle_seconds) {
            return bad("--sim-settle-seconds", "must be a number of seconds, 0 or more");
        }
        if self.sim_account_id.len() != 12 || !self.sim_account_id.bytes().all(|b| b.is_ascii_digit()) {
            return bad("--sim-account-id", "must be 12 digits");
        }
        let refills = [
            ("--sim-copy-image-refill", self.sim_copy_image_refill),
            ("--sim-describe-images-refill", self.sim_describe_images_refill),
            ("--sim-describe-snapshots-refill", self.sim_describe_snapshots_refill),
            ("--sim-deregister-image-refill", self.sim_deregister_image_refill),
            ("--sim-modify-attribute-refill", self.sim_modify_attribute_refill),
            ("--sim-describe-attribute-refill", self.sim_describe_attribute_refill),
            ("--sim-describe-key-refill", self.sim_describe_key_refill),
        ];
        if let Some((flag, _)) = refills.iter().find(|(_, v)| !finite_non_negative(*v)) {
            return bad(flag, "must be a rate, 0 or more");
        }
        Ok(())
    }
}
