//! TEMP
use std::time::Duration;
use tokio::time::Instant;
pub struct TokenBucket { pub burst: u32, pub refill_per_second: f64, tokens: f64, last: Option<Instant> }
impl TokenBucket {
    pub fn new(burst: u32, refill_per_second: f64) -> Self { Self { burst, refill_per_second, tokens: f64::from(burst), last: None } }
    pub fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        if let Some(last) = self.last { self.tokens = (self.tokens + now.duration_since(last).as_secs_f64() * self.refill_per_second).min(f64::from(self.burst)); }
        self.last = Some(now);
        if self.tokens >= 1.0 { self.tokens -= 1.0; Ok(()) } else { Err(Duration::from_secs_f64((1.0 - self.tokens) / self.refill_per_second)) }
    }
}
