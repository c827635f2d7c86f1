//! Reading one histogram from amicopyd's `/metrics` listener, to split a latency the bench times
//! end to end into the share the server measured itself (e.g. how old relayed events are when
//! the watchers' replica hands them over).

use anyhow::Context as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A histogram's cumulative buckets: (upper bound in seconds, observations at or below it),
/// in increasing order of bound, `+Inf` last.
pub type Buckets = Vec<(f64, f64)>;

/// Scrapes `name`'s buckets from the metrics listener at `addr` (`host:port`).
pub async fn histogram(addr: &str, name: &str) -> anyhow::Result<Buckets> {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("cannot reach the metrics listener at {addr}"))?;
    let request = format!("GET /metrics HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    let buckets = parse_buckets(body, name);
    anyhow::ensure!(!buckets.is_empty(), "{addr}/metrics has no histogram {name}");
    Ok(buckets)
}

/// The buckets of histogram `name` in an OpenMetrics text body.
pub fn parse_buckets(body: &str, name: &str) -> Buckets {
    let prefix = format!("{name}_bucket{{le=\"");
    let mut buckets: Buckets = body
        .lines()
        .filter_map(|line| {
            let (bound, count) = line.strip_prefix(&prefix)?.split_once("\"} ")?;
            let bound = if bound == "+Inf" {
                f64::INFINITY
            } else {
                bound.parse().ok()?
            };
            Some((bound, count.trim().parse().ok()?))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    buckets
}

/// The observations made between two scrapes of the same histogram, and the bucket bound at
/// or below which the `quantile` of them lies (`None` when nothing was observed).
pub fn quantile_bound(before: &Buckets, after: &Buckets, quantile: f64) -> (f64, Option<f64>) {
    let count_at = |buckets: &Buckets, bound: f64| {
        buckets
            .iter()
            .find(|(b, _)| *b == bound)
            .map_or(0.0, |(_, count)| *count)
    };
    let between: Vec<(f64, f64)> = after
        .iter()
        .map(|&(bound, count)| (bound, count - count_at(before, bound)))
        .collect();
    let total = between.last().map_or(0.0, |&(_, count)| count);
    if total <= 0.0 {
        return (0.0, None);
    }
    let bound = between
        .iter()
        .find(|&&(_, count)| count >= quantile * total)
        .map(|&(bound, _)| bound);
    (total, bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "# TYPE amicopy_x_seconds histogram
amicopy_x_seconds_sum 1.5
amicopy_x_seconds_count 100
amicopy_x_seconds_bucket{le=\"0.001\"} 10
amicopy_x_seconds_bucket{le=\"0.002\"} 60
amicopy_x_seconds_bucket{le=\"0.004\"} 99
amicopy_x_seconds_bucket{le=\"+Inf\"} 100
amicopy_other_seconds_bucket{le=\"0.001\"} 7
";

    #[test]
    fn buckets_of_the_named_histogram_are_read_in_order() {
        assert_eq!(
            parse_buckets(BODY, "amicopy_x_seconds"),
            vec![(0.001, 10.0), (0.002, 60.0), (0.004, 99.0), (f64::INFINITY, 100.0)]
        );
        assert!(parse_buckets(BODY, "amicopy_missing").is_empty());
    }

    #[test]
    fn a_quantile_is_bounded_by_the_first_bucket_that_holds_it_counting_only_new_observations() {
        let after = parse_buckets(BODY, "amicopy_x_seconds");
        let before = vec![(0.001, 10.0), (0.002, 10.0), (0.004, 10.0), (f64::INFINITY, 10.0)];
        assert_eq!(quantile_bound(&before, &after, 0.5), (90.0, Some(0.002)));
        assert_eq!(quantile_bound(&before, &after, 0.99), (90.0, Some(f64::INFINITY)));
        assert_eq!(quantile_bound(&after, &after, 0.5), (0.0, None));
        assert_eq!(quantile_bound(&Vec::new(), &after, 0.9), (100.0, Some(0.004)));
    }
}
