//! `amicopy-bench`: measures a running amicopyd and the baselines it is compared with. See
//! `scripts/bench.sh` and BENCHMARKS.md; the scenarios live in this crate's library (`src/lib.rs`).

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = amicopy_bench::Args::parse();
    match amicopy_bench::run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("amicopy-bench: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
