//! The `api` binary: `serve` (default), `migrate up|down|status|fresh`, `openapi`.

use keel_bootstrap::{Config, api, logging};
use std::process::ExitCode;

const USAGE: &str = "usage: api [serve | migrate <up|down|status|fresh> | openapi]";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match Config::load() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("api: {error}");
            return ExitCode::from(2);
        }
    };
    let outcome = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["serve"] => {
            match logging::init_process(&config, logging::API_SERVICE) {
                Ok(telemetry) => {
                    let served = api::serve(&config).await;
                    // Flush batched spans and error reports (blocking) once the server stopped.
                    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
                    served
                }
                Err(error) => Err(error),
            }
        }
        ["migrate", action] => {
            logging::init(&config.observability);
            api::migrate(&config, action)
                .await
                .map(|done| println!("{done}"))
        }
        ["openapi"] => {
            println!("{}", api::openapi(&config));
            Ok(())
        }
        ["-h" | "--help" | "help"] => {
            println!("{USAGE}");
            Ok(())
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("api: {error:#}");
            ExitCode::FAILURE
        }
    }
}
