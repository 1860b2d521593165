//! Runs the local Wix emulator until it is killed (Ctrl-C, SIGTERM, SIGKILL).
//!
//! ```text
//! wix-media-emulator --port 8080 --dir /tmp/wix-emulator
//! ```
//!
//! Prints its base URL, and nothing else, as one line on standard output (point your code's
//! Wix API base URL at it); the other routes and the store directory go to standard error.
//! Killing it at any moment is safe: state files are replaced atomically, and the bytes of a
//! body cut short are kept (unless it carried `Upload-Checksum`) on the next start.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use wix_media_emulator::EmulatorConfig;

const USAGE: &str = "usage: wix-media-emulator [--port PORT] [--dir DIR] [--max-body-size BYTES]
                [--processing-delay DURATION] [--lookup-delay DURATION]
                [--rate-limit CALLS/DURATION] [--retry-after] [--site-id ID]
DURATION is a number with an optional unit: ms, s (the default), m or h (e.g. 500ms, 2s, 1m).";

/// `500ms`, `2s`, `2`, `1m`, `1h`.
fn parse_duration(s: &str) -> Option<Duration> {
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(secs).ok()
}

/// `200/1m`: 200 calls per minute.
fn parse_rate(s: &str) -> Option<(u32, Duration)> {
    let (calls, window) = s.split_once('/')?;
    Some((calls.parse().ok()?, parse_duration(window)?))
}

fn main() -> ExitCode {
    let mut config = EmulatorConfig::new();
    let mut dir = std::env::temp_dir().join("wix-media-upload-emulator");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "--retry-after" => {
                config = config.rate_limit_retry_after(true);
                continue;
            }
            "--port" | "--dir" | "--max-body-size" | "--processing-delay" | "--lookup-delay"
            | "--rate-limit" | "--site-id" => {}
            _ => {
                eprintln!("unknown argument {arg:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
        let Some(value) = args.next() else {
            eprintln!("{arg} needs a value\n{USAGE}");
            return ExitCode::from(2);
        };
        let next = match arg.as_str() {
            "--port" => value.parse().ok().map(|p| config.clone().port(p)),
            "--dir" => {
                dir = PathBuf::from(&value);
                Some(config.clone())
            }
            "--max-body-size" => value.parse().ok().map(|m| config.clone().max_body_size(m)),
            "--processing-delay" => {
                parse_duration(&value).map(|d| config.clone().processing_delay(d))
            }
            "--lookup-delay" => parse_duration(&value).map(|d| config.clone().lookup_delay(d)),
            "--rate-limit" => parse_rate(&value).map(|(n, w)| config.clone().rate_limit(n, w)),
            _ => Some(config.clone().site_id(value.clone())),
        };
        match next {
            Some(c) => config = c,
            None => {
                eprintln!("bad value {value:?} for {arg}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }

    let emulator = match config.start(&dir) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("could not start the emulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{}", emulator.base_url())
        .and_then(|()| out.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    drop(out);
    eprintln!("generate (resumable): {}", emulator.generate_url());
    eprintln!("generate (simple):    {}", emulator.generate_simple_url());
    eprintln!("files API:            {}", emulator.files_url());
    eprintln!("tus endpoint:         {}", emulator.tus_endpoint());
    eprintln!("storing in            {}", dir.display());
    eprintln!("running until killed");
    // std has no portable signal handling and this example takes no dependency for it: the
    // process ends when killed, and the OS frees the port.
    loop {
        std::thread::park();
    }
}
