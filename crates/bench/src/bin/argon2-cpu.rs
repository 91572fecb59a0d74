//! Prints, as one JSON object, the CPU time of one Argon2id hash with keel's parameters:
//! `{"hashes":N,"cpu_seconds_per_hash":…,"wall_seconds_per_hash":…}`. `bench/run.sh` divides
//! the core count by it to get the login throughput bound. `ARGON2_CPU_HASHES` (default 20)
//! sets how many hashes are averaged.

use std::process::ExitCode;

fn main() -> ExitCode {
    let hashes = std::env::var("ARGON2_CPU_HASHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    match keel_bench::measure_hashes(hashes) {
        Ok(cost) => {
            println!(
                "{{\"hashes\":{},\"cpu_seconds_per_hash\":{:.6},\"wall_seconds_per_hash\":{:.6}}}",
                cost.hashes,
                cost.cpu_per_hash.as_secs_f64(),
                cost.wall_per_hash.as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("argon2-cpu: {error}");
            ExitCode::FAILURE
        }
    }
}
