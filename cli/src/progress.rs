//! Progress on stderr: bars on a terminal (one overall, one per file in flight), a plain status
//! line every few seconds elsewhere, or nothing; and the summary line.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use wix_media_upload::Progress;
use wix_media_upload::wix::RestCalls;

use crate::output::{self, human_bytes, human_duration};
use crate::walk::Skip;

/// How often the plain status line is printed.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Bars,
    Plain,
    Off,
}

impl Mode {
    /// Bars when stderr is a terminal, plain lines otherwise, nothing with `--no-progress`.
    pub fn pick(no_progress: bool) -> Mode {
        if no_progress {
            Mode::Off
        } else if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Plain
        }
    }
}

/// Counters of the whole batch, shared by every job.
#[derive(Debug)]
pub struct Board {
    mode: Mode,
    started: Instant,
    files_total: AtomicU64,
    bytes_total: AtomicU64,
    counted_all: AtomicBool,
    files_done: AtomicU64,
    uploaded: AtomicU64,
    skipped: AtomicU64,
    /// Files another process uploaded while this one waited for it.
    by_other: AtomicU64,
    /// Entries left out of folders: hidden, symbolic links, special files.
    left_out: [AtomicU64; 3],
    failed: AtomicU64,
    /// Files stopped or never started because of a stop.
    left: AtomicU64,
    /// Bytes sent by this run (a resumed file counts from its resume offset).
    sent: AtomicU64,
    /// Bytes of the total that this run will not send: skipped files, resumed offsets, the
    /// rest of failed files.
    not_sent: AtomicU64,
    multi: Option<MultiProgress>,
    overall: Option<ProgressBar>,
    finished: (Mutex<bool>, Condvar),
}

impl Board {
    pub fn new(mode: Mode) -> Board {
        let (multi, overall) = if mode == Mode::Bars {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let bar = multi.add(ProgressBar::new(0));
            let style = ProgressStyle::with_template(
                "[{bar:30}] {bytes}/{total_bytes} {msg}  {binary_bytes_per_sec}  ETA {eta}",
            )
            .map(|s| s.progress_chars("=> "));
            if let Ok(style) = style {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            (Some(multi), Some(bar))
        } else {
            (None, None)
        };
        Board {
            mode,
            started: Instant::now(),
            files_total: AtomicU64::new(0),
            bytes_total: AtomicU64::new(0),
            counted_all: AtomicBool::new(false),
            files_done: AtomicU64::new(0),
            uploaded: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            by_other: AtomicU64::new(0),
            left_out: Default::default(),
            failed: AtomicU64::new(0),
            left: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            not_sent: AtomicU64::new(0),
            multi,
            overall,
            finished: (Mutex::new(false), Condvar::new()),
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Prints a line on stderr without breaking the bars.
    pub fn note(&self, text: &str) {
        match &self.multi {
            Some(multi) => {
                let _ = multi.println(format!("wix-media: {text}"));
            }
            None => output::note(text),
        }
    }

    /// The counting walk found one more file.
    pub fn add_total(&self, bytes: u64) {
        self.files_total.fetch_add(1, Ordering::Relaxed);
        self.bytes_total.fetch_add(bytes, Ordering::Relaxed);
        self.refresh();
    }

    /// The counting walk is over: the totals are final.
    pub fn total_known(&self) {
        self.counted_all.store(true, Ordering::Relaxed);
        self.refresh();
    }

    fn refresh(&self) {
        if let Some(bar) = &self.overall {
            let total = self.bytes_total.load(Ordering::Relaxed);
            let not_sent = self.not_sent.load(Ordering::Relaxed);
            bar.set_length(total.saturating_sub(not_sent));
            bar.set_position(self.sent.load(Ordering::Relaxed));
            bar.set_message(self.files_text());
        }
    }

    fn files_text(&self) -> String {
        let plus = if self.counted_all.load(Ordering::Relaxed) {
            ""
        } else {
            "+"
        };
        format!(
            "{}/{}{plus} files",
            self.files_done.load(Ordering::Relaxed),
            self.files_total.load(Ordering::Relaxed)
        )
    }

    /// A file starts uploading.
    pub fn start_file<'b>(&'b self, path: &Path, size: u64) -> FileBar<'b> {
        let bar = self.multi.as_ref().map(|multi| {
            let bar = multi.add(ProgressBar::new(size));
            let style = ProgressStyle::with_template(
                "  {wide_msg} {bytes:>10}/{total_bytes:<10} {binary_bytes_per_sec:>12}",
            );
            if let Ok(style) = style {
                bar.set_style(style);
            }
            bar.set_message(short_path(path));
            bar
        });
        FileBar {
            board: self,
            bar,
            path: path.to_owned(),
            finishing: false,
            size,
            base: None,
            counted: 0,
        }
    }

    /// A file the manifest says is uploaded already.
    pub fn skipped(&self, size: u64) {
        self.not_sent.fetch_add(size, Ordering::Relaxed);
        self.skipped.fetch_add(1, Ordering::Relaxed);
        self.files_done.fetch_add(1, Ordering::Relaxed);
        self.refresh();
    }

    /// A file another process uploaded while this one waited for it: not this run's work.
    pub fn by_other(&self, size: u64) {
        self.not_sent.fetch_add(size, Ordering::Relaxed);
        self.by_other.fetch_add(1, Ordering::Relaxed);
        self.files_done.fetch_add(1, Ordering::Relaxed);
        self.refresh();
    }

    /// An entry of a folder that is left out.
    pub fn left_out(&self, why: Skip) {
        let i = match why {
            Skip::Hidden => 0,
            Skip::Symlink => 1,
            Skip::Special => 2,
        };
        self.left_out[i].fetch_add(1, Ordering::Relaxed);
    }

    /// A path that failed before any upload started (unreadable, bad manifest...).
    pub fn failed_early(&self, size: u64) {
        self.not_sent.fetch_add(size, Ordering::Relaxed);
        self.failed.fetch_add(1, Ordering::Relaxed);
        self.files_done.fetch_add(1, Ordering::Relaxed);
        self.refresh();
    }

    /// A file was not started because the batch stopped.
    pub fn left_undone(&self) {
        self.left.fetch_add(1, Ordering::Relaxed);
    }

    /// Files interrupted or not started.
    pub fn undone(&self) -> u64 {
        self.left.load(Ordering::Relaxed)
    }

    pub fn failures(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Prints the plain status line every few seconds until [`Board::finish`].
    pub fn run_ticker(&self) {
        if self.mode != Mode::Plain {
            return;
        }
        let (lock, cvar) = &self.finished;
        let mut done = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let (guard, timeout) = cvar
                .wait_timeout(done, PLAIN_EVERY)
                .unwrap_or_else(|e| e.into_inner());
            done = guard;
            if *done {
                return;
            }
            if timeout.timed_out() {
                output::note(&self.status_line());
            }
        }
    }

    fn status_line(&self) -> String {
        let sent = self.sent.load(Ordering::Relaxed);
        let total = self
            .bytes_total
            .load(Ordering::Relaxed)
            .saturating_sub(self.not_sent.load(Ordering::Relaxed));
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = sent as f64 / secs;
        let eta = if rate > 0.0 && self.counted_all.load(Ordering::Relaxed) {
            human_duration(Duration::from_secs_f64(
                total.saturating_sub(sent) as f64 / rate,
            ))
        } else {
            "?".into()
        };
        format!(
            "{}, {} of {} sent, {}/s, ETA {eta}",
            self.files_text(),
            human_bytes(sent),
            human_bytes(total),
            human_bytes(rate as u64)
        )
    }

    /// Stops the bars and the ticker.
    pub fn finish(&self) {
        if let Some(bar) = &self.overall {
            bar.finish_and_clear();
        }
        if let Some(multi) = &self.multi {
            let _ = multi.clear();
        }
        let (lock, cvar) = &self.finished;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cvar.notify_all();
    }

    /// `3 uploaded, 2 skipped, 1 failed; left out of folders: 2 hidden, 1 symbolic link;
    /// 12.0 MiB sent in 3.2 s (3.7 MiB/s); 8 REST calls, 0 refused`: this run's work only.
    pub fn summary(&self, calls: Option<RestCalls>) -> String {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut text = format!(
            "{} uploaded, {} skipped, {} failed",
            n(&self.uploaded),
            n(&self.skipped),
            n(&self.failed)
        );
        let mut counted = |count: u64, what: &str| {
            if count > 0 {
                text.push_str(&format!(", {count} {what}"));
            }
        };
        counted(n(&self.by_other), "uploaded by another process");
        counted(n(&self.left), "not done");
        let left_out: Vec<String> = ["hidden", "symbolic link", "special file"]
            .iter()
            .zip(&self.left_out)
            .filter(|(_, c)| n(c) > 0)
            .map(|(what, c)| plural(n(c), what))
            .collect();
        if !left_out.is_empty() {
            text.push_str(&format!("; left out of folders: {}", left_out.join(", ")));
        }
        let elapsed = self.started.elapsed();
        let sent = n(&self.sent);
        let rate = sent as f64 / elapsed.as_secs_f64().max(1e-3);
        text.push_str(&format!(
            "; {} sent in {} ({}/s)",
            human_bytes(sent),
            human_duration(elapsed),
            human_bytes(rate as u64)
        ));
        if let Some(c) = calls {
            text.push_str(&format!(
                "; {}, {} refused",
                plural(c.sent, "REST call"),
                c.refused
            ));
        }
        text
    }
}

/// `1 hidden`, `2 symbolic links`.
fn plural(n: u64, what: &str) -> String {
    let s = if n == 1 || what == "hidden" { "" } else { "s" };
    format!("{n} {what}{s}")
}

/// One file in flight.
#[derive(Debug)]
pub struct FileBar<'b> {
    board: &'b Board,
    bar: Option<ProgressBar>,
    path: std::path::PathBuf,
    finishing: bool,
    size: u64,
    /// Where this run started (a resume starts past 0), from the first report.
    base: Option<u64>,
    /// Bytes this file added to the board's `sent`.
    counted: u64,
}

impl FileBar<'_> {
    /// The library's progress callback.
    pub fn update(&mut self, p: Progress) {
        let board = self.board;
        // The first report's acknowledged offset is where this run starts: 0 for a new
        // upload, the server's offset for a resumed one.
        let base = *self.base.get_or_insert_with(|| {
            board.not_sent.fetch_add(p.acked, Ordering::Relaxed);
            p.acked
        });
        self.set_counted(p.sent.saturating_sub(base));
        if let Some(bar) = &self.bar {
            if let Some(total) = p.total {
                bar.set_length(total);
                if p.acked == total && !self.finishing {
                    // All bytes are on the server: what is left is the finalize call.
                    self.finishing = true;
                    bar.set_message(format!("{} (finishing)", short_path(&self.path)));
                }
            }
            bar.set_position(p.sent);
        }
        board.refresh();
    }

    fn set_counted(&mut self, v: u64) {
        let sent = &self.board.sent;
        if v > self.counted {
            sent.fetch_add(v - self.counted, Ordering::Relaxed);
        } else {
            sent.fetch_sub(self.counted - v, Ordering::Relaxed);
        }
        self.counted = v;
    }

    /// Says what the file is waiting for (processing, say).
    pub fn message(&self, what: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{} ({what})", short_path(&self.path)));
        }
    }

    /// The file is uploaded (`true`) or failed; the rest of it is taken off the total.
    pub fn done(mut self, ok: bool) {
        let board = self.board;
        let base = self.base.unwrap_or(0);
        let goal = self.size.saturating_sub(base);
        if ok {
            self.set_counted(goal);
            board.uploaded.fetch_add(1, Ordering::Relaxed);
        } else {
            board
                .not_sent
                .fetch_add(goal.saturating_sub(self.counted), Ordering::Relaxed);
            board.failed.fetch_add(1, Ordering::Relaxed);
        }
        board.files_done.fetch_add(1, Ordering::Relaxed);
        self.clear();
        board.refresh();
    }

    /// The file was interrupted: neither done nor failed.
    pub fn interrupted(mut self) {
        self.board.left.fetch_add(1, Ordering::Relaxed);
        let goal = self.size.saturating_sub(self.base.unwrap_or(0));
        self.board
            .not_sent
            .fetch_add(goal.saturating_sub(self.counted), Ordering::Relaxed);
        self.clear();
    }

    /// Removes the bar without counting anything (the caller counts the file).
    pub fn discard(mut self) {
        self.clear();
    }

    fn clear(&mut self) {
        if let (Some(bar), Some(multi)) = (self.bar.take(), &self.board.multi) {
            bar.finish_and_clear();
            multi.remove(&bar);
        }
    }
}

impl Drop for FileBar<'_> {
    fn drop(&mut self) {
        self.clear();
    }
}

/// The last 48 characters of a path.
fn short_path(path: &Path) -> String {
    let s = path.to_string_lossy();
    let n = s.chars().count();
    if n <= 48 {
        s.into_owned()
    } else {
        let tail: String = s.chars().skip(n - 47).collect();
        format!("…{tail}")
    }
}
