//! Child processes of the tests: bounded waits, their output read on threads, signals, and the
//! test binary run again as a child.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

/// The name the test harness knows the test `name` of `module` (its `module_path!()`) by:
/// `subject::name`, without the crate's own name. For a test that runs itself again in a child
/// process (`current_exe() --exact NAME`).
pub fn test_path(module: &str, name: &str) -> String {
    let module = module.split_once("::").map_or("", |(_, rest)| rest);
    if module.is_empty() {
        name.to_owned()
    } else {
        format!("{module}::{name}")
    }
}

/// Waits for `child` to end, calling `each` about every 20 ms meanwhile; kills it and returns
/// `None` once `timeout` has passed.
pub fn wait_for(
    child: &mut Child,
    timeout: Duration,
    mut each: impl FnMut(),
) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        each();
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Reads all of a child's pipe on a thread.
pub fn read_all(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut s);
        }
        s
    })
}

/// Reads lines of a child's stdout (or stderr) on a thread.
pub fn line_reader(pipe: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Sends `signal` (`INT` is what Ctrl-C sends, `9` is SIGKILL) to a child, with the system's
/// `kill`.
pub fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} failed");
}
