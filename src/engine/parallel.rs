//! One file over several connections: each sends a slice as a partial upload, then one request
//! concatenates them (tus concatenation extension).

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::progress::Reporter;
use super::tracked::Tracked;
use super::transport::mask;
use super::{Engine, Step};
use crate::control::{AbortHandle, Progress};
use crate::digest::{Md5Digest, Md5Stream};
use crate::error::{Error, FailedRequest, Result};
use crate::source::Source;
use crate::store::StateStore;
use wix_media_tus::options::Capabilities;
use wix_media_tus::{self as proto, Metadata, Method, Upload, concat};

/// Slices smaller than this are not worth a connection of their own.
const MIN_SLICE: u64 = 1024 * 1024;

/// How often the slices' progress is summed up for the caller.
const POLL: Duration = Duration::from_millis(50);

/// A finished parallel upload: the final upload (with the file's MD5), and the sum of the
/// slices' resume offsets.
pub(crate) struct Concatenated {
    pub(crate) tracked: Tracked,
    pub(crate) resumed_from: Option<u64>,
}

/// A file cut into slices, each sent as a partial upload over a connection of its own.
struct Plan<'a> {
    endpoint: &'a str,
    metadata: &'a Metadata,
    // Where the final upload's record lives; the slices' records are keyed after it.
    key: Option<&'a str>,
    // The source's stamp (see `Source::stamp`).
    stamp: Option<&'a str>,
    slices: Vec<(u64, u64)>,
}

impl Plan<'_> {
    fn length(&self) -> u64 {
        self.slices.last().map_or(0, |s| s.1)
    }

    // Where slice `i`'s record lives.
    fn part_key(&self, i: usize) -> Option<String> {
        self.key
            .map(|k| crate::store::key::slice(k, i, self.slices.len()))
    }
}

/// What the slice threads share: one stop for all, and each one's bytes sent and acknowledged.
struct Shared {
    stop: AbortHandle,
    sent: Vec<AtomicU64>,
    acked: Vec<AtomicU64>,
}

impl Shared {
    fn new(slices: usize) -> Self {
        let counters = || (0..slices).map(|_| AtomicU64::new(0)).collect();
        Self {
            stop: AbortHandle::new(),
            sent: counters(),
            acked: counters(),
        }
    }

    // Passes the caller's abort on, and the slices' progress summed up.
    fn report(&self, abort: Option<&AbortHandle>, progress: &mut Reporter<'_>, length: u64) {
        if abort.is_some_and(AbortHandle::is_aborted) {
            self.stop.abort();
        }
        let sum = |v: &[AtomicU64]| v.iter().map(|a| a.load(Ordering::Relaxed)).sum();
        progress.sent(sum(&self.sent), sum(&self.acked), Some(length));
    }
}

/// A slice's upload URL, and the offset it resumed from.
type SliceDone = (String, Option<u64>);

impl Engine {
    /// Uploads `source` in slices when the server offers concatenation; `Ok(None)` when it does
    /// not (or the file is too small, or a finished upload is saved under `key`), so the caller
    /// uploads over one connection.
    pub(crate) fn upload_parallel(
        &self,
        endpoint: &str,
        source: &Source,
        metadata: &Metadata,
        key: Option<&str>,
        abort: Option<&AbortHandle>,
        progress: &mut Reporter<'_>,
    ) -> Result<Option<Concatenated>> {
        let Some(length) = source.length() else {
            return Ok(None);
        };
        let n = self
            .parallel
            .min(usize::try_from(length / MIN_SLICE).unwrap_or(usize::MAX));
        // A finished concatenation is resumed (checked) by the one-connection path.
        let finished = match key {
            Some(k) => self.store.load(k)?.is_some(),
            None => false,
        };
        if n < 2 || finished || !self.offers_concatenation(endpoint, abort)? {
            return Ok(None);
        }
        let slice = length.div_ceil(n as u64);
        let plan = Plan {
            endpoint,
            metadata,
            key,
            stamp: source.stamp(),
            slices: (0..n as u64)
                .map(|i| (i * slice, ((i + 1) * slice).min(length)))
                .filter(|(s, e)| e > s)
                .collect(),
        };
        let (urls, resumed_from, md5) = self.upload_slices(&plan, source, abort, progress)?;
        let url = self.concatenate(endpoint, &urls, metadata, abort)?;
        progress.acked(length, Some(length));
        let mut tracked = self.concatenated(&plan, &url)?;
        if let Some(d) = md5 {
            tracked.md5 = Md5Stream::known(length, d);
        }
        Ok(Some(Concatenated {
            tracked,
            resumed_from,
        }))
    }

    // The final upload at `url`, saved as such (a later call finds it and checks it with
    // HEAD), and the slices' records removed.
    fn concatenated(&self, plan: &Plan<'_>, url: &str) -> Result<Tracked> {
        let length = plan.length();
        let fresh = |m: &Metadata| Upload::new(plan.endpoint, length, m, self.tus_config());
        let key = plan.key.map(str::to_owned);
        let mut tracked = self.open(
            plan.endpoint,
            key,
            (Some(length), plan.stamp),
            plan.metadata.clone(),
            fresh,
        )?;
        tracked.up.resume_at(url);
        self.created(&mut tracked)?;
        for i in 0..plan.slices.len() {
            if let Some(pk) = plan.part_key(i) {
                self.store.remove(&pk)?;
            }
        }
        Ok(tracked)
    }

    // Sends every slice on a thread of its own; one failure stops the others. The URLs in
    // order, the sum of the slices' resume offsets, and the file's MD5 (read on one more
    // thread meanwhile: the slices go out of order).
    fn upload_slices(
        &self,
        plan: &Plan<'_>,
        source: &Source,
        abort: Option<&AbortHandle>,
        progress: &mut Reporter<'_>,
    ) -> Result<(Vec<String>, Option<u64>, Option<Md5Digest>)> {
        let whole = source.reopen();
        let shared = Shared::new(plan.slices.len());
        // One file handle per connection, opened here: `Source` is not shared across threads.
        let mut sources = Vec::with_capacity(plan.slices.len());
        for _ in &plan.slices {
            sources.push(source.reopen().ok_or(Error::Internal(
                "a parallel upload of a source that is not a file",
            ))??);
        }
        let (results, md5) = std::thread::scope(|scope| {
            let hasher = scope.spawn(|| file_md5(whole?.ok()?, &shared.stop));
            let handles: Vec<_> = sources
                .into_iter()
                .enumerate()
                .map(|(i, mut src)| {
                    let shared = &shared;
                    scope.spawn(move || self.upload_slice(plan, i, &mut src, shared))
                })
                .collect();
            while !handles.iter().all(|h| h.is_finished()) {
                shared.report(abort, progress, plan.length());
                std::thread::sleep(POLL);
            }
            let results: Vec<Result<SliceDone>> = handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or(Err(Error::Internal("an upload thread panicked")))
                })
                .collect();
            (results, hasher.join().ok().flatten())
        });
        let (urls, resumed) = combine(results)?;
        Ok((urls, resumed, md5))
    }

    // Slice `i` of `plan` from `src`; a failure stops the other slices.
    fn upload_slice(
        &self,
        plan: &Plan<'_>,
        i: usize,
        src: &mut Source,
        shared: &Shared,
    ) -> Result<SliceDone> {
        let (start, end) = plan.slices[i];
        let mut on = |p: Progress| {
            shared.sent[i].store(p.sent, Ordering::Relaxed);
            shared.acked[i].store(p.acked, Ordering::Relaxed);
        };
        let mut report = Reporter::new(Some(&mut on), &*self.clock);
        let len = end - start;
        let fresh = |m: &Metadata| Upload::partial(plan.endpoint, len, m, self.tus_config());
        let result = self
            .open(
                plan.endpoint,
                plan.part_key(i),
                (Some(len), plan.stamp),
                plan.metadata.clone(),
                fresh,
            )
            .and_then(|mut t| {
                self.drive(&mut t, src, start, Some(&shared.stop), &mut report)?;
                let url = t.up.url().unwrap_or_default().to_owned();
                Ok((url, t.resumed_from))
            });
        if result.is_err() {
            shared.stop.abort();
        }
        result
    }

    // Asks the server (OPTIONS) whether it offers concatenation. A failure that may pass (a
    // broken connection, 5xx) is retried like any request, so that one glitch does not silently
    // cost the parallel upload; when retrying is over, or the server has no OPTIONS, the file
    // goes over one connection.
    fn offers_concatenation(&self, endpoint: &str, abort: Option<&AbortHandle>) -> Result<bool> {
        let req = proto::options::request(endpoint);
        let asked = self.retrying(abort, || {
            let resp = self.send_tus(&req, &[])?;
            Capabilities::from_response(&resp.head, self.now()).map_err(|e| {
                Error::from_proto(e, FailedRequest::new(Method::Options, endpoint), &resp.body)
            })
        });
        match asked {
            Ok(caps) => Ok(caps.is_some_and(|c| c.has("concatenation"))),
            Err(Error::Aborted) => Err(Error::Aborted),
            Err(e) => {
                log::debug!("OPTIONS {endpoint} failed, uploading over one connection: {e}");
                Ok(false)
            }
        }
    }

    fn concatenate(
        &self,
        endpoint: &str,
        urls: &[String],
        metadata: &Metadata,
        abort: Option<&AbortHandle>,
    ) -> Result<String> {
        let req = concat::final_request(endpoint, urls, metadata);
        let secrets: Vec<&str> = metadata.secret_values().collect();
        self.run(abort, || {
            let resp = self.send_tus(&req, &secrets)?;
            concat::final_response(endpoint, &resp.head, self.now())
                .map(Step::Done)
                .map_err(|e| {
                    let failed = FailedRequest::new(Method::Post, mask(endpoint, &secrets));
                    Error::from_proto(e, failed, &resp.body)
                })
        })
    }
}

// The MD5 of all of `source` (`None` when stopped or unreadable).
fn file_md5(mut source: Source, stop: &AbortHandle) -> Option<Md5Digest> {
    let len = source.length()?;
    let mut md5 = Md5Stream::new(Some(0));
    let mut reader = source.range(0..len).ok()?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut at = 0;
    while at < len {
        if stop.is_aborted() {
            return None;
        }
        let n = reader.read(&mut buf).ok().filter(|n| *n > 0)?;
        md5.feed(at, &buf[..n]);
        at += n as u64;
    }
    md5.digest()
}

// The slices' URLs and summed resume offsets, or the first failure that is not a sibling
// stopped because of it.
fn combine(results: Vec<Result<SliceDone>>) -> Result<(Vec<String>, Option<u64>)> {
    let mut urls = Vec::with_capacity(results.len());
    let mut resumed = None;
    let mut first_err = None;
    for r in results {
        match r {
            Ok((url, from)) => {
                urls.push(url);
                if let Some(o) = from {
                    resumed = Some(resumed.unwrap_or(0) + o);
                }
            }
            // Siblings stopped by `stop` report Aborted; the cause is the other error.
            Err(e) if first_err.is_none() || matches!(first_err, Some(Error::Aborted)) => {
                first_err = Some(e)
            }
            Err(_) => {}
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok((urls, resumed)),
    }
}
