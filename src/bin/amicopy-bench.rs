//! `amicopy-bench`: measures a running amicopyd and the baselines it is compared with. See
//! `scripts/bench.sh` and BENCHMARKS.md; the scenarios live in `amicopy::bench`.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = amicopy::bench::Args::parse();
    match amicopy::bench::run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("amicopy-bench: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
