//! [`WatchSlots`]: how many watch streams (WatchCopyJob and WatchDistribution together) each
//! tenant has open, capped.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use prometheus_client::metrics::gauge::Gauge;

/// Open watch streams per tenant, at most `cap` each (no cap when `cap` is 0).
#[derive(Debug)]
pub struct WatchSlots {
    cap: usize,
    open: Mutex<HashMap<String, usize>>,
    gauge: Gauge,
}

/// One open stream; closing it (dropping the slot) frees it.
#[derive(Debug)]
pub struct WatchSlot {
    slots: Arc<WatchSlots>,
    tenant: String,
}

impl WatchSlots {
    /// Slots for at most `cap` streams per tenant; `gauge` follows the total open.
    pub fn new(cap: usize, gauge: Gauge) -> Arc<Self> {
        Arc::new(Self {
            cap,
            open: Mutex::new(HashMap::new()),
            gauge,
        })
    }

    /// The most streams a tenant may hold; 0 means no cap.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// A slot for one more stream of `tenant`, or `None` when it holds `cap` already.
    pub fn try_open(self: &Arc<Self>, tenant: &str) -> Option<WatchSlot> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(tenant.to_owned()).or_default();
        if self.cap > 0 && *count >= self.cap {
            return None;
        }
        *count += 1;
        self.gauge.inc();
        Some(WatchSlot {
            slots: Arc::clone(self),
            tenant: tenant.to_owned(),
        })
    }
}

impl Drop for WatchSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.tenant) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.tenant);
            }
        }
        self.slots.gauge.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_gets_cap_slots_and_a_closed_one_back() {
        let gauge = Gauge::default();
        let slots = WatchSlots::new(2, gauge.clone());
        let first = slots.try_open("acme").unwrap();
        let _second = slots.try_open("acme").unwrap();
        assert!(slots.try_open("acme").is_none());
        assert!(slots.try_open("globex").is_some(), "other tenants have their own slots");
        assert_eq!(gauge.get(), 2, "the dropped globex slot is no longer open");
        drop(first);
        assert!(slots.try_open("acme").is_some());
    }

    #[test]
    fn a_cap_of_zero_means_no_cap() {
        let slots = WatchSlots::new(0, Gauge::default());
        let held: Vec<_> = (0..50).map(|_| slots.try_open("acme").unwrap()).collect();
        assert_eq!(held.len(), 50);
    }
}
