//! `krust-bench`: run one benchmark and print its table.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "krust benchmarks, printed as ratios against reference runs")]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Write and watch throughput: krust's SQLite store against a real etcd.
    Store(krust_bench::store::StoreArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let bench = async {
        match cli.bench {
            Bench::Store(args) => krust_bench::store::run(args).await,
        }
    };
    // On Ctrl-C the benchmark is dropped, which stops the processes it started.
    let result = tokio::select! {
        result = bench => result,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
