//! The `worker` binary: `run` (default) delivers outbox events to the configured sinks until
//! SIGTERM; `requeue-failed [--topic T]` makes dead letters pending again;
//! `purge --older-than DAYS` deletes delivered events past their retention.

use keel_bootstrap::{Config, logging, worker};
use std::process::ExitCode;

const USAGE: &str =
    "usage: worker [run | requeue-failed [--topic TOPIC] | purge --older-than DAYS]";

enum Command {
    Run,
    RequeueFailed(Option<String>),
    Purge(u32),
    Help,
}

fn parse(args: &[&str]) -> Option<Command> {
    Some(match args {
        [] | ["run"] => Command::Run,
        ["requeue-failed"] => Command::RequeueFailed(None),
        ["requeue-failed", "--topic", topic] => Command::RequeueFailed(Some((*topic).to_owned())),
        ["requeue-failed", flag] => {
            Command::RequeueFailed(Some(flag.strip_prefix("--topic=")?.to_owned()))
        }
        ["purge", "--older-than", days] => Command::Purge(days.parse().ok()?),
        ["purge", flag] => Command::Purge(flag.strip_prefix("--older-than=")?.parse().ok()?),
        ["-h" | "--help" | "help"] => Command::Help,
        _ => return None,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = parse(&args.iter().map(String::as_str).collect::<Vec<_>>()) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    if let Command::Help = command {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let config = match Config::load() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("worker: {error}");
            return ExitCode::from(2);
        }
    };
    let telemetry = match command {
        Command::Run => logging::init_process(&config, logging::WORKER_SERVICE),
        _ => {
            logging::init(&config.observability);
            keel_bootstrap::install_crypto_provider();
            Ok(logging::TelemetryGuard::default())
        }
    };
    let telemetry = match telemetry {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("worker: {error:#}");
            return ExitCode::from(2);
        }
    };
    let outcome = match command {
        Command::Run | Command::Help => worker::run(&config).await,
        Command::RequeueFailed(topic) => worker::requeue_failed(&config, topic)
            .await
            .map(|n| println!("requeued {n} failed events")),
        Command::Purge(days) => worker::purge(&config, days)
            .await
            .map(|n| println!("purged {n} completed events")),
    };
    // Flush batched spans and error reports (blocking) once the worker stopped.
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("worker: {error:#}");
            ExitCode::FAILURE
        }
    }
}
