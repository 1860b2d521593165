//! One file over several connections: each sends a slice as a partial upload, then one request
//! concatenates them (tus concatenation extension).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::control::{AbortHandle, Progress};
use crate::error::{Error, Result};
use crate::proto::{self, Metadata, Method, RetryState, Upload, concat};
use crate::source::Source;
use crate::store::Record;
use crate::uploader::{Uploaded, Uploader};

/// Slices smaller than this are not worth a connection of their own.
const MIN_SLICE: u64 = 1024 * 1024;

/// Uploads `source` in slices when the server offers concatenation; `Ok(None)` when it does not
/// (or the file is too small), so the caller uploads over one connection.
pub(crate) fn upload(
    uploader: &Uploader,
    endpoint: &str,
    source: &Source,
    metadata: &Metadata,
    key: Option<&str>,
    abort: Option<&AbortHandle>,
    report: &mut dyn FnMut(Progress),
) -> Result<Option<Uploaded>> {
    let Some(length) = source.length() else {
        return Ok(None);
    };
    let n = uploader
        .parallel()
        .min(usize::try_from(length / MIN_SLICE).unwrap_or(usize::MAX));
    // A finished concatenation is resumed (checked) by the one-connection path.
    let finished = match key {
        Some(k) => uploader.store().load(k)?.is_some(),
        None => false,
    };
    if n < 2 || finished || !offers_concatenation(uploader, endpoint, abort)? {
        return Ok(None);
    }
    let slice = length.div_ceil(n as u64);
    let slices: Vec<(u64, u64)> = (0..n as u64)
        .map(|i| (i * slice, ((i + 1) * slice).min(length)))
        .filter(|(s, e)| e > s)
        .collect();
    let part_key = |i: usize| key.map(|k| format!("{k}\npart {i}/{}", slices.len()));
    let stop = AbortHandle::new();
    let sent: Vec<AtomicU64> = slices.iter().map(|_| AtomicU64::new(0)).collect();
    let acked: Vec<AtomicU64> = slices.iter().map(|_| AtomicU64::new(0)).collect();
    let mut cfg = uploader.proto_config().clone();
    cfg.creation = proto::CreationMode::Plain;

    // One file handle per connection, opened here: `Source` is not shared across threads.
    let mut sources = Vec::with_capacity(slices.len());
    for _ in &slices {
        sources.push(
            source
                .reopen()
                .ok_or_else(|| Error::InvalidInput("only files upload in parallel".into()))??,
        );
    }
    let results: Vec<Result<(String, Option<u64>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = slices
            .iter()
            .zip(sources)
            .enumerate()
            .map(|(i, (&(start, end), mut src))| {
                let (stop, sent, acked, cfg, pkey) =
                    (&stop, &sent[i], &acked[i], &cfg, part_key(i));
                scope.spawn(move || -> Result<(String, Option<u64>)> {
                    let run = || {
                        let len = end - start;
                        let fresh = |m: &Metadata| Upload::partial(endpoint, len, m, cfg.clone());
                        let mut leg = uploader.open_leg(
                            endpoint,
                            pkey,
                            Some(len),
                            metadata.clone(),
                            fresh,
                        )?;
                        let mut on = |p: Progress| {
                            sent.store(p.sent, Ordering::Relaxed);
                            acked.store(p.acked, Ordering::Relaxed);
                        };
                        let resumed =
                            uploader.drive(&mut leg, &mut src, start, Some(stop), &mut on)?;
                        let url = leg.up.url().unwrap_or_default().to_owned();
                        Ok((url, resumed))
                    };
                    let result = run();
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
            report(Progress {
                sent: sum(&sent),
                acked: sum(&acked),
                total: length,
            });
            std::thread::sleep(Duration::from_millis(50));
        }
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Protocol("an upload thread panicked".into())))
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
    if let Some(e) = first_err {
        return Err(e);
    }

    let url = finalize_concat(uploader, endpoint, &urls, metadata, abort)?;
    report(Progress {
        sent: length,
        acked: length,
        total: length,
    });
    if let Some(k) = key {
        uploader.store().save(&Record {
            key: k.to_owned(),
            endpoint: endpoint.to_owned(),
            upload_url: url.clone(),
            length: Some(length),
            offset: length,
            created_at: 0,
            expires_at: None,
            metadata: metadata
                .iter()
                .map(|(k, v)| (k.to_owned(), crate::Secret::new(v)))
                .collect(),
        })?;
        for i in 0..slices.len() {
            if let Some(pk) = part_key(i) {
                uploader.store().remove(&pk)?;
            }
        }
    }
    Ok(Some(Uploaded {
        url,
        size: length,
        resumed_from: resumed,
        metadata: metadata.clone(),
        key: key.map(str::to_owned),
    }))
}

// Asks the server (OPTIONS) whether it offers concatenation. A failure that may pass (a broken
// connection, 5xx) is retried like any request, so that one glitch does not silently cost the
// parallel upload; when retrying is over, or the server has no OPTIONS, the file goes over one
// connection.
fn offers_concatenation(
    uploader: &Uploader,
    endpoint: &str,
    abort: Option<&AbortHandle>,
) -> Result<bool> {
    let req = proto::Request {
        method: Method::Options,
        url: endpoint.to_owned(),
        headers: Vec::new(),
        body: None,
        checksum: None,
    };
    let mut retry = RetryState::new();
    loop {
        let err = match uploader.send(&req, None, &[]) {
            Ok(resp) if resp.is_success() => return Ok(resp.has_extension("concatenation")),
            Ok(resp) if matches!(resp.status, 423 | 429 | 500..=599) => {
                proto::status_error(Method::Options, endpoint, &resp, uploader.clock().now())
            }
            Ok(_) => return Ok(false),
            Err(e) => e,
        };
        match uploader.backoff(&mut retry, err, 0, Method::Options, abort) {
            Ok(()) => {}
            Err(Error::Aborted) => return Err(Error::Aborted),
            Err(e) => {
                log::debug!("OPTIONS {endpoint} failed, uploading over one connection: {e}");
                return Ok(false);
            }
        }
    }
}

fn finalize_concat(
    uploader: &Uploader,
    endpoint: &str,
    urls: &[String],
    metadata: &Metadata,
    abort: Option<&AbortHandle>,
) -> Result<String> {
    let req = concat::final_request(endpoint, urls, metadata);
    let token: Vec<&str> = metadata.get("token").into_iter().collect();
    let mut retry = RetryState::new();
    loop {
        let outcome = uploader
            .send(&req, None, &token)
            .and_then(|resp| concat::final_response(endpoint, &resp, uploader.clock().now()));
        match outcome {
            Ok(url) => return Ok(url),
            Err(e) => uploader.backoff(&mut retry, e, 0, Method::Post, abort)?,
        }
    }
}
