//! One file over several connections: each sends a slice as a partial upload, then one request
//! concatenates them (tus concatenation extension).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::progress::Reporter;
use super::tracked::Tracked;
use super::transport::mask;
use super::{Engine, Step};
use crate::control::{AbortHandle, Progress};
use crate::error::{Error, FailedRequest, Result};
use crate::proto::{self, Capabilities, Metadata, Method, Upload, concat};
use crate::source::Source;

/// Slices smaller than this are not worth a connection of their own.
const MIN_SLICE: u64 = 1024 * 1024;

/// How often the slices' progress is summed up for the caller.
const POLL: Duration = Duration::from_millis(50);

/// A finished parallel upload: the final upload, and the sum of the slices' resume offsets.
pub(crate) struct Concatenated {
    pub(crate) tracked: Tracked,
    pub(crate) resumed_from: Option<u64>,
}

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
        let slices: Vec<(u64, u64)> = (0..n as u64)
            .map(|i| (i * slice, ((i + 1) * slice).min(length)))
            .filter(|(s, e)| e > s)
            .collect();
        let part_key = |i: usize| key.map(|k| format!("{k}\npart {i}/{}", slices.len()));
        let (urls, resumed_from) = self.upload_slices(
            endpoint, source, metadata, &slices, &part_key, abort, progress,
        )?;

        let url = self.concatenate(endpoint, &urls, metadata, abort)?;
        progress.acked(length, Some(length));
        let fresh = |m: &Metadata| Upload::new(endpoint, length, m, self.tus_config());
        let mut tracked = self.open(
            endpoint,
            key.map(str::to_owned),
            Some(length),
            metadata.clone(),
            fresh,
        )?;
        // Saved as the final upload, so a later call finds it (and checks it with HEAD).
        tracked.up.resume_at(&url);
        self.created(&mut tracked)?;
        for i in 0..slices.len() {
            if let Some(pk) = part_key(i) {
                self.store.remove(&pk)?;
            }
        }
        Ok(Some(Concatenated {
            tracked,
            resumed_from,
        }))
    }

    // Sends every slice on a thread of its own; one failure stops the others.
    #[allow(clippy::too_many_arguments)]
    fn upload_slices(
        &self,
        endpoint: &str,
        source: &Source,
        metadata: &Metadata,
        slices: &[(u64, u64)],
        part_key: &(dyn Fn(usize) -> Option<String> + Sync),
        abort: Option<&AbortHandle>,
        progress: &mut Reporter<'_>,
    ) -> Result<(Vec<String>, Option<u64>)> {
        let length = slices.last().map_or(0, |s| s.1);
        let stop = AbortHandle::new();
        let sent: Vec<AtomicU64> = slices.iter().map(|_| AtomicU64::new(0)).collect();
        let acked: Vec<AtomicU64> = slices.iter().map(|_| AtomicU64::new(0)).collect();
        // One file handle per connection, opened here: `Source` is not shared across threads.
        let mut sources = Vec::with_capacity(slices.len());
        for _ in slices {
            sources.push(source.reopen().ok_or(Error::Internal(
                "a parallel upload of a source that is not a file",
            ))??);
        }
        let results: Vec<Result<(String, Option<u64>)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = slices
                .iter()
                .zip(sources)
                .enumerate()
                .map(|(i, (&(start, end), mut src))| {
                    let (stop, sent, acked, pkey) = (&stop, &sent[i], &acked[i], part_key(i));
                    scope.spawn(move || {
                        let mut on = |p: Progress| {
                            sent.store(p.sent, Ordering::Relaxed);
                            acked.store(p.acked, Ordering::Relaxed);
                        };
                        let clock = &*self.clock;
                        let mut report = Reporter::new(Some(&mut on), clock);
                        let result = self.upload_slice(
                            endpoint,
                            (start, end),
                            &mut src,
                            metadata,
                            pkey,
                            stop,
                            &mut report,
                        );
                        if result.is_err() {
                            // One slice failed: the others stop too.
                            stop.abort();
                        }
                        result
                    })
                })
                .collect();
            while !handles.iter().all(|h| h.is_finished()) {
                if abort.is_some_and(AbortHandle::is_aborted) {
                    stop.abort();
                }
                let sum = |v: &[AtomicU64]| v.iter().map(|a| a.load(Ordering::Relaxed)).sum();
                progress.sent(sum(&sent), sum(&acked), Some(length));
                std::thread::sleep(POLL);
            }
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or(Err(Error::Internal("an upload thread panicked")))
                })
                .collect()
        });
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

    #[allow(clippy::too_many_arguments)]
    fn upload_slice(
        &self,
        endpoint: &str,
        (start, end): (u64, u64),
        src: &mut Source,
        metadata: &Metadata,
        key: Option<String>,
        stop: &AbortHandle,
        report: &mut Reporter<'_>,
    ) -> Result<(String, Option<u64>)> {
        let len = end - start;
        let fresh = |m: &Metadata| Upload::partial(endpoint, len, m, self.tus_config());
        let mut t = self.open(endpoint, key, Some(len), metadata.clone(), fresh)?;
        self.drive(&mut t, src, start, Some(stop), report)?;
        let url = t.up.url().unwrap_or_default().to_owned();
        Ok((url, t.resumed_from))
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
