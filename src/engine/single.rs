//! Drives one tracked upload to its end over one connection.

use super::progress::Reporter;
use super::tracked::Tracked;
use super::transport::{BODY_LIMIT, BodyReader, Call, Response, lost_connection, mask};
use super::{Engine, Step};
use crate::checksum;
use crate::control::AbortHandle;
use crate::digest::{Md5Stream, Tee};
use crate::error::{Error, FailedRequest, Result};
use crate::source::Source;
use wix_media_tus::{self as proto, Event, Interruption, Phase};

/// What one upload is sent from, and to whom it reports.
struct Feed<'a, 'r> {
    source: &'a mut Source,
    // Where the upload's byte 0 lies in `source`.
    base: u64,
    abort: Option<&'a AbortHandle>,
    progress: &'a mut Reporter<'r>,
}

impl Engine {
    /// Runs `t` until every byte is acknowledged; `base` is where its byte 0 lies in `source`.
    /// On failure the record keeps the offset reached (unless the upload is gone).
    pub(crate) fn drive(
        &self,
        t: &mut Tracked,
        source: &mut Source,
        base: u64,
        abort: Option<&AbortHandle>,
        progress: &mut Reporter<'_>,
    ) -> Result<()> {
        let mut feed = Feed {
            source,
            base,
            abort,
            progress,
        };
        let result = self
            .check_prefix(t, &mut feed)
            .and_then(|()| self.run(abort, || self.step(t, &mut feed)));
        if let Err(e) = &result
            && !matches!(e, Error::Gone { .. })
        {
            // Best effort: the offset reached, for whoever looks at the record.
            if let Err(save) = self.persist(t) {
                log::warn!("could not save the upload's state: {save}");
            }
        }
        result
    }

    // One request and what its answer does.
    fn step(&self, t: &mut Tracked, feed: &mut Feed<'_, '_>) -> Result<Step<()>> {
        self.check_expiry(t)?;
        declare_if_ended(t, feed.source, feed.base)?;
        let Some(req) = t.up.next_request() else {
            return Ok(Step::Done(()));
        };
        let secrets = t.secrets();
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let sent = self.send_request(t, &req, &secrets, feed);
        if self
            .expect_ignored
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            t.up.stop_expect_continue();
        }
        let resp = match sent {
            Ok(resp) => resp,
            Err(e) => {
                let how = if lost_connection(&e) {
                    Interruption::ConnectionLost
                } else {
                    Interruption::Other
                };
                if let Some(Event::ChunkSizeLowered { chunk_size }) = t.up.interrupted(how) {
                    log::warn!(
                        "{e}, twice at offset {} with no progress: the server may refuse \
                         large bodies; sending at most {chunk_size} bytes per request",
                        t.up.offset()
                    );
                    t.learned(chunk_size);
                    return Ok(Step::Advanced);
                }
                return Err(e);
            }
        };
        match t.up.handle(&resp.head, self.now()) {
            Ok(Event::Synced { offset }) if t.saved.is_some() => {
                if self.check_tail(t, feed, offset)? {
                    self.on_event(t, Event::Synced { offset }, feed.progress)
                } else {
                    Ok(Step::Continue)
                }
            }
            Ok(event) => self.on_event(t, event, feed.progress),
            Err(e) => {
                let failed = FailedRequest::new(req.method, mask(&req.url, &secrets));
                self.on_failure(t, Error::from_proto(e, failed, &resp.body))
            }
        }
    }

    // Don't send into an upload the server said has expired.
    fn check_expiry(&self, t: &mut Tracked) -> Result<()> {
        if t.up.url().is_none() || !t.up.is_expired(self.now()) {
            return Ok(());
        }
        if t.from_record && !t.acked_any {
            log::info!("saved upload has expired: starting anew");
            return self.restart(t);
        }
        Err(Error::Expired)
    }

    // A saved upload is resumed only while the source still starts with the bytes whose
    // digest its record kept; else a new upload starts (said in one line).
    fn check_prefix(&self, t: &mut Tracked, feed: &mut Feed<'_, '_>) -> Result<()> {
        let Some((at, want)) = t.saved.as_ref().and_then(|s| s.acked_md5) else {
            return Ok(());
        };
        // A stream cannot be read twice: its key vouches for it.
        if feed.source.is_stream() {
            return Ok(());
        }
        let mut md5 = Md5Stream::new(t.up.length());
        md5.feed_from(feed.source.range(feed.base..feed.base + at)?, 0, at)?;
        if md5.digest() == Some(want) {
            t.md5 = md5;
            return Ok(());
        }
        log::info!(
            "{} changed since the interrupted upload (its first {at} bytes differ): starting a \
             new upload",
            feed.source.describe()
        );
        self.restart(t)
    }

    // The server's offset on resuming a saved upload: bytes it holds beyond those the digest
    // checked are trusted only while the source is the file the record saw (same stamp), else
    // a new upload starts (false). Brings the digest up to the offset.
    fn check_tail(&self, t: &mut Tracked, feed: &mut Feed<'_, '_>, offset: u64) -> Result<bool> {
        let saved_stamp = t.saved.as_ref().and_then(|s| s.stamp.clone());
        if feed.source.is_stream() {
            t.vouch();
            return Ok(true);
        }
        let checked = t.md5.position().unwrap_or(0);
        if offset > checked
            && saved_stamp.is_some()
            && saved_stamp.as_deref() != feed.source.stamp()
        {
            log::info!(
                "{} was modified since the interrupted upload, and {} bytes the server holds \
                 cannot be checked: starting a new upload",
                feed.source.describe(),
                offset - checked
            );
            self.restart(t)?;
            return Ok(false);
        }
        if offset < checked {
            t.md5 = Md5Stream::new(t.up.length());
        }
        let from = t.md5.position().unwrap_or(0);
        let base = feed.base;
        t.md5.feed_from(
            feed.source.range(base + from..base + offset)?,
            from,
            offset - from,
        )?;
        t.vouch();
        Ok(true)
    }

    // Streams the request's body range (if any) from the source.
    fn send_request(
        &self,
        t: &mut Tracked,
        req: &proto::Request,
        secrets: &[&str],
        feed: &mut Feed<'_, '_>,
    ) -> Result<Response> {
        let Feed {
            source,
            base,
            abort,
            progress,
        } = feed;
        let Some(range) = &req.body else {
            return self.send_tus(req, secrets);
        };
        source.check_unchanged()?;
        let abs = *base + range.start..*base + range.end;
        let len = range.end - range.start;
        let mut headers = req.headers.clone();
        if let Some(algo) = req.checksum {
            let value = checksum::header(algo, source.range(abs.clone())?)?;
            headers.push(("Upload-Checksum", value));
        }
        let (acked, total, start) = (t.up.offset(), t.up.length(), range.start);
        let asked = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("Expect"));
        let started = std::time::Instant::now();
        let mut first_read = None;
        let mut on_read = |n: u64| {
            first_read.get_or_insert_with(std::time::Instant::now);
            progress.sent(start + n, acked, total);
        };
        let tee = Tee::new(source.range(abs.clone())?, start, &mut t.md5);
        let mut body = BodyReader::new(tee, len, *abort, &mut on_read);
        let sent = self.send(Call {
            method: req.method,
            url: &req.url,
            headers: &headers,
            body: Some((&mut body, len)),
            body_limit: BODY_LIMIT,
            secrets,
        });
        drop(body);
        self.note_expect(asked, started, first_read);
        match sent {
            // The body reader counts within this body: say what the source holds.
            Err(Error::SourceChanged { found, .. }) => {
                source.check_unchanged()?;
                Err(Error::SourceChanged {
                    expected: source.length().unwrap_or(abs.end),
                    found: abs.start + found,
                })
            }
            other => other,
        }
    }

    fn on_event(
        &self,
        t: &mut Tracked,
        event: Event,
        progress: &mut Reporter<'_>,
    ) -> Result<Step<()>> {
        let total = t.up.length();
        let offset = t.up.offset();
        match event {
            Event::Created { .. } => {
                t.md5.mark(offset);
                self.created(t)?;
                if offset > 0 {
                    // creation-with-upload carried bytes.
                    progress.acked(offset, total);
                }
            }
            Event::Synced { offset } => {
                if t.from_record && t.resumed_from.is_none() {
                    t.resumed_from = Some(offset);
                    log::info!(
                        "resuming an earlier upload from byte {offset} of {}",
                        total.map_or_else(|| "?".to_owned(), |n| n.to_string())
                    );
                }
                t.acked_any = true;
                t.md5.mark(offset);
                progress.acked(offset, total);
            }
            // Saved now and then: a resume re-reads the offset with HEAD anyway, but the
            // digest of what was acknowledged lets it check the source's first bytes.
            Event::Progress { offset } => {
                t.md5.mark(offset);
                if t.due_for_save()
                    && let Err(e) = self.persist(t)
                {
                    log::warn!("could not save the upload's state: {e}");
                }
                progress.acked(offset, total);
            }
            Event::ChunkSizeLowered { chunk_size } => {
                log::warn!("the server refused a body as too large; chunk size now {chunk_size}");
                t.learned(chunk_size);
                return Ok(Step::Advanced);
            }
            Event::Discovered => return Ok(Step::Continue),
        }
        if offset > t.high {
            t.high = offset;
            return Ok(Step::Advanced);
        }
        Ok(Step::Continue)
    }

    fn on_failure(&self, t: &mut Tracked, e: Error) -> Result<Step<()>> {
        if let Error::Gone { status } = e {
            if t.from_record && !t.acked_any {
                log::info!("saved upload is gone (HTTP {status}): starting anew");
                self.restart(t)?;
                return Ok(Step::Continue);
            }
            self.forget(t)?;
        }
        Err(e)
    }
}

// A stream of unknown length declares it once it ends within the next chunk.
fn declare_if_ended(t: &mut Tracked, source: &mut Source, base: u64) -> Result<()> {
    let up = &mut t.up;
    if up.is_deferred() && up.phase() == Phase::Patch {
        let chunk = up.chunk_size().unwrap_or(proto::STREAM_CHUNK);
        let have = source.available(base + up.offset(), chunk)?;
        if have < chunk {
            up.declare_length(up.offset() + have)?;
        }
    }
    Ok(())
}
