//! Log capture: one process-wide logger that keeps every record (target, level, text) for the
//! tests to look at, and passes each one on to an `env_logger` configured from `RUST_LOG`
//! (errors only when it is unset), so `RUST_LOG=wix_media_upload=debug cargo test` still shows
//! the crate's log.
//!
//! A test binary has one logger: every test that looks at log lines calls [`install`] and then
//! picks its own lines out (tests run in parallel: look for something only your test logs, such
//! as the path of its own temp dir), unless the binary is a single subject's, like
//! tests/secrets_in_logs.rs, which sets the level and clears the lines per test.

use std::sync::{Mutex, MutexGuard, Once};

/// One captured record.
#[derive(Clone, Debug)]
pub struct Line {
    pub target: String,
    pub level: log::Level,
    pub text: String,
}

static LINES: Mutex<Vec<Line>> = Mutex::new(Vec::new());

struct Capture {
    echo: env_logger::Logger,
}

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        lines().push(Line {
            target: record.target().to_owned(),
            level: record.level(),
            text: format!("{}", record.args()),
        });
        if self.echo.matches(record) {
            self.echo.log(record);
        }
    }

    fn flush(&self) {}
}

/// Installs the capturing logger (once per process) at `Info` (or what `RUST_LOG` asks, if
/// more).
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let echo = env_logger::Builder::from_default_env()
            .is_test(true)
            .build();
        let level = echo.filter().max(log::LevelFilter::Info);
        log::set_boxed_logger(Box::new(Capture { echo })).expect("no other logger");
        log::set_max_level(level);
    });
}

/// Installs the logger, sets the process-wide maximum level and forgets the lines so far (for
/// a binary whose tests take turns).
pub fn capture_at(level: log::LevelFilter) {
    install();
    log::set_max_level(level);
    lines().clear();
}

/// Every line so far.
pub fn lines() -> MutexGuard<'static, Vec<Line>> {
    LINES.lock().unwrap_or_else(|e| e.into_inner())
}

/// The texts of this crate's lines at `level` that contain `needle`.
pub fn ours_about(level: log::Level, needle: &str) -> Vec<String> {
    lines()
        .iter()
        .filter(|l| l.level == level && l.target.starts_with("wix_media_upload"))
        .filter(|l| l.text.contains(needle))
        .map(|l| l.text.clone())
        .collect()
}
