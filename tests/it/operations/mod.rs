//! Production edges, through a real gRPC client over loopback: protective limits, Prometheus
//! metrics, logs without secrets, and the settings file.

mod binary;
mod limits;
mod metrics;
mod retention;
