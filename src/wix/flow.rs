//! A file's upload (and an import) as a job: its record first (a kept result answers; a run
//! that did not learn whether it created the file looks for it; a kept resumable target is
//! resumed without generating again), then the route, each request that creates the file
//! kept as an intent before it goes and never sent again blindly, then the result kept before
//! the tus record is forgotten.

use super::client::{Job, Route, WixClient, WixUpload};
use super::create::{self, Creating};
use super::job::{Found, Intent, JobRecord, KeptRoute};
use super::processing;
use super::read::ItemError;
use super::read::bulk_import::BulkImport;
use super::reconcile::Lookout;
use super::rest::Rest;
use super::resumable::{self, ResumableTarget, generate_with};
use super::simple;
use super::types::FileDescriptorEnvelope;
use super::{FileDescriptor, FileState, GenerateUploadUrlRequest, ImportFileRequest};
use crate::control::sleep_unless_aborted;
use crate::digest::{Md5Digest, hex, parse_hex};
use crate::engine::Step;
use crate::engine::progress::Reporter;
use crate::error::{ContentMismatch, Error, Result};
use crate::source::Source;
use crate::store::StateStore;
use crate::uploader::UploadOptions;

impl WixClient {
    // The upload as the one writer of the file's job: the job's kept result when it was
    // done already (by an earlier run, or a writer this one waited for), else this one's,
    // kept (before the tus record is forgotten).
    pub(super) fn upload_once(
        &self,
        rest: &Rest<'_>,
        job: Job<'_>,
        upload: UploadOptions<'_>,
    ) -> Result<WixUpload> {
        let engine = rest.engine;
        let Some(key) = self.job_key(&job.source, &job.request) else {
            let (done, tus) = self.upload_job(rest, job, upload, None, Found::Nothing)?;
            self.forget_tus(rest, tus.as_deref())?;
            return Ok(done);
        };
        let _writer = engine.writer(&key, &job.path.display().to_string())?;
        let api_base = self.inner.credentials.api_base();
        let record = JobRecord::new(engine, key, api_base, job.size, job.source.stamp());
        let found = match record.load()? {
            Found::Finished(done) if !job.reupload => match self.still_there(rest, *done)? {
                Some(done) => {
                    log::info!("{} was uploaded already", job.path.display());
                    return Ok(done);
                }
                None => Found::Nothing,
            },
            found => found,
        };
        let (done, tus) = self.upload_job(rest, job, upload, Some(&record), found)?;
        record.finished(&done)?;
        self.forget_tus(rest, tus.as_deref())?;
        Ok(done)
    }

    // A job's kept result, read again (one request): its file as Wix has it now, or `None`
    // when it is gone or in the trash since (then it is uploaded again). A new file can be
    // briefly unknown: a 404 is believed after a few reads 1.5 s apart.
    fn still_there(&self, rest: &Rest<'_>, mut done: WixUpload) -> Result<Option<WixUpload>> {
        let Some(id) = done.file.id.clone() else {
            return Ok(None);
        };
        let mut read = processing::get_file(rest, &id);
        for _ in 0..processing::NOT_FOUND_GRACE {
            if !read.as_ref().is_err_and(|e| e.status() == Some(404)) {
                break;
            }
            let clock = &*rest.engine.clock;
            if !sleep_unless_aborted(clock, processing::NOT_FOUND_WAIT, rest.abort) {
                return Err(Error::Aborted);
            }
            read = processing::get_file(rest, &id);
        }
        match read {
            Ok(file) if file.state != Some(FileState::Deleted) => {
                self.take(&file);
                done.file = file;
                Ok(Some(done))
            }
            Ok(_) => {
                log::info!("file {id}, uploaded from it before, is in the trash: uploading again");
                Ok(None)
            }
            Err(e) if e.status() == Some(404) => {
                log::info!("file {id}, uploaded from it before, is gone: uploading again");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn forget_tus(&self, rest: &Rest<'_>, key: Option<&str>) -> Result<()> {
        match key {
            Some(k) => rest.engine.store.remove(k),
            None => Ok(()),
        }
    }

    // The job from where its record says it is: the result, and the key of the tus record
    // to forget once the result is kept.
    fn upload_job(
        &self,
        rest: &Rest<'_>,
        job: Job<'_>,
        upload: UploadOptions<'_>,
        record: Option<&JobRecord<'_>>,
        found: Found,
    ) -> Result<(WixUpload, Option<String>)> {
        match found {
            Found::Creating(intent) => {
                if let Some(done) = self.look_again(rest, &intent, Route::Simple)? {
                    return Ok((done, None));
                }
                if let Some(r) = record {
                    r.clear()?;
                }
            }
            Found::Resumable(target, intent) => {
                let tus = self
                    .inner
                    .uploader
                    .resume_key(&target.upload_url, &job.source);
                if let Some(i) = &intent
                    && let Some(done) = self.look_again(rest, i, Route::Resumable)?
                {
                    return Ok((done, tus));
                }
                return self.resumable(rest, job, upload, record, (Some(*target), intent));
            }
            Found::Nothing | Found::Finished(_) => {}
        }
        self.upload_by_route(rest, job, upload, record)
    }

    // A run before this one was creating the file when it stopped: the file, if it landed.
    fn look_again(
        &self,
        rest: &Rest<'_>,
        intent: &Intent,
        route: Route,
    ) -> Result<Option<WixUpload>> {
        log::info!("an earlier run did not learn whether it created this file: looking for it");
        let lookout = self.lookout(rest);
        let deadline = rest.engine.now() + self.inner.list_lag;
        let Some(file) = lookout.find(&intent.expected(), deadline)? else {
            log::info!("it did not: uploading");
            return Ok(None);
        };
        log::info!(
            "it did: file {} (taken as this upload's)",
            file.id.as_deref().unwrap_or("?")
        );
        let md5 = intent.md5.as_deref().and_then(parse_hex);
        self.finish_file(file, route, None, md5).map(Some)
    }

    fn lookout<'a>(&'a self, rest: &'a Rest<'a>) -> Lookout<'a> {
        Lookout {
            listing: self,
            clock: &*rest.engine.clock,
            abort: rest.abort,
            taken: &self.inner.taken,
        }
    }

    // What a job creates, as its intent says it (its first attempt starting now).
    fn intent(&self, rest: &Rest<'_>, job: &Job<'_>, route: KeptRoute) -> Intent {
        let started = rest.engine.now();
        Intent {
            route,
            display_name: Some(job.name.clone()),
            size_in_bytes: Some(job.size),
            source_url: None,
            parent_folder_id: job.request.options.parent_folder_id.clone(),
            file_path: job.request.options.file_path.clone(),
            md5: None,
            started_ms: crate::store::unix_ms(started),
        }
    }

    // The route the job asks for; under `Route::Auto` the simple one below the threshold,
    // and resumable after all when a body cap refuses the one request.
    fn upload_by_route(
        &self,
        rest: &Rest<'_>,
        mut job: Job<'_>,
        mut upload: UploadOptions<'_>,
        record: Option<&JobRecord<'_>>,
    ) -> Result<(WixUpload, Option<String>)> {
        let simple = match job.route {
            Route::Auto => job.size < self.inner.simple_below,
            route => route == Route::Simple,
        };
        if !simple {
            return self.resumable(rest, job, upload, record, (None, None));
        }
        let mut report = Reporter::new(upload.progress_callback(), &*rest.engine.clock);
        let request = job.request.for_simple_route();
        let intent = self.intent(rest, &job, KeptRoute::Simple);
        let mut creating =
            Creating::new(self.lookout(rest), intent, self.inner.list_lag).kept_in(record, None);
        let sent = simple::upload(
            rest,
            (&request, &job.name),
            &mut job.source,
            &mut report,
            &mut creating,
        );
        match sent {
            Ok((file, md5)) => Ok((self.finish_file(file, Route::Simple, None, md5)?, None)),
            // A server or proxy with a body cap: tus sends it in pieces.
            Err(e) if job.route == Route::Auto && refused_as_too_large(&e) => {
                log::info!("the one-request upload was refused as too large: going resumable");
                self.resumable(rest, job, upload, record, (None, None))
            }
            Err(e) => Err(e),
        }
    }

    // Keeps the finished job's record, with its result, for a writer waiting for this one.
    // Where the one-writer lock and the finished outcome of a file's upload live: the site, the
    // file, and everything asked of Wix (name, type, folder...).
    fn job_key(&self, source: &Source, request: &GenerateUploadUrlRequest) -> Option<String> {
        let file = source.key()?;
        let asked = serde_json::to_string(request).ok()?;
        let creds = &self.inner.credentials;
        let scope = format!("{:?}", creds.scope());
        Some(crate::store::key::wix_job(
            creds.api_base(),
            &scope,
            file,
            &asked,
        ))
    }

    // The resumable route: to the `stored` target (and after the `stored` intent of a run
    // that did not learn whether its finalize landed) or to a new one, kept in `record`.
    fn resumable(
        &self,
        rest: &Rest<'_>,
        job: Job<'_>,
        upload: UploadOptions<'_>,
        record: Option<&JobRecord<'_>>,
        stored: (Option<ResumableTarget>, Option<Intent>),
    ) -> Result<(WixUpload, Option<String>)> {
        let kept = stored.0.is_some() && stored.1.is_none();
        let target = match stored.0 {
            Some(t) => t,
            None => {
                let t = generate_with(rest, &job.request)?;
                if let Some(r) = record {
                    r.resumable(&t, None)?;
                }
                t
            }
        };
        let unsure = stored.1.is_some();
        let intent = match stored.1 {
            Some(i) => i,
            None => self.intent(rest, &job, KeptRoute::Resumable),
        };
        let uploader = &self.inner.uploader;
        let tus = uploader.resume_key(&target.upload_url, &job.source);
        let abort = upload.abort_handle().cloned();
        let done = match resumable::send(uploader, &target, job.source, upload) {
            // A kept token Wix no longer takes: the next attempt asks for a new one.
            Err(e) if kept && matches!(e.status(), Some(401 | 403)) => {
                log::info!("the kept upload token was refused: the next attempt starts anew");
                if let Some(r) = record {
                    r.clear()?;
                }
                self.forget_tus(rest, tus.as_deref())?;
                return Err(e);
            }
            sent => sent?,
        };
        let md5 = done.md5();
        let (token, filename) = resumable::finalize_args(&done);
        let mut creating = Creating::new(self.lookout(rest), intent, self.inner.list_lag)
            .kept_in(record, Some(&target));
        creating.unsure = unsure;
        let args = (&token, filename.as_deref());
        let file = create::finalize(uploader, args, md5, abort.as_ref(), &mut creating)?;
        let up = self.finish_file(file, Route::Resumable, done.resumed_from, md5)?;
        Ok((up, tus))
    }

    // The upload's result: Wix's `hash` compared with the source's MD5, the file taken.
    fn finish_file(
        &self,
        file: FileDescriptor,
        route: Route,
        resumed_from: Option<u64>,
        md5: Option<Md5Digest>,
    ) -> Result<WixUpload> {
        self.check_hash(&file, md5)?;
        self.take(&file);
        Ok(WixUpload {
            file,
            route,
            resumed_from,
            content_md5: md5.map(|d| hex(&d)),
        })
    }

    // A `hash` of 32 hex digits that differs from the source's MD5: a warning, or an error
    // with `verify_hash`.
    fn check_hash(&self, file: &FileDescriptor, md5: Option<Md5Digest>) -> Result<()> {
        let server = file.hash.as_deref().and_then(parse_hex);
        let (Some(local), Some(server)) = (md5, server) else {
            return Ok(());
        };
        if local == server {
            return Ok(());
        }
        let mismatch =
            ContentMismatch::new(file.id.as_deref().unwrap_or("?"), hex(&local), hex(&server));
        if self.inner.verify_hash {
            return Err(Error::ContentMismatch(Box::new(mismatch)));
        }
        log::warn!("{mismatch}");
        Ok(())
    }

    // An import as a job: looked for when a run before this one did not learn whether it
    // landed; its intent kept while its request goes.
    pub(super) fn import_job(&self, request: &ImportFileRequest) -> Result<FileDescriptor> {
        let rest = self.rest(None);
        let engine = rest.engine;
        let key = self.import_key(request)?;
        let _writer = engine.writer(&key, "an import of the same URL")?;
        let api_base = self.inner.credentials.api_base();
        let record = JobRecord::new(engine, key, api_base, 0, None);
        if let Found::Creating(intent) = record.load()?
            && let Some(done) = self.look_again(&rest, &intent, Route::Auto)?
        {
            record.clear()?;
            return Ok(done.file);
        }
        let intent = import_intent(request, engine.now());
        let mut creating = Creating::new(self.lookout(&rest), intent, self.inner.list_lag)
            .kept_in(Some(&record), None);
        let file = self.import_once(&rest, request, &mut creating)?;
        record.clear()?;
        self.finish_file(file, Route::Auto, None, None)
            .map(|done| done.file)
    }

    // The import's requests: sent again only when no file of it landed.
    fn import_once(
        &self,
        rest: &Rest<'_>,
        request: &ImportFileRequest,
        creating: &mut Creating<'_>,
    ) -> Result<FileDescriptor> {
        let got = rest.engine.run(None, || {
            creating.before(None)?;
            let path = "/site-media/v1/files/import";
            match rest.create::<FileDescriptorEnvelope>(path, request) {
                Ok(e) => Ok(Step::Done(e.file)),
                Err(e) if e.is_outcome_unknown() => match creating.landed(None)? {
                    Some(file) => Ok(Step::Done(file)),
                    None => Err(e),
                },
                Err(e) => Err(e),
            }
        });
        if got.is_err() {
            creating.failed()?;
        }
        got
    }

    // Where an import's lock and intent live: the site and the request (digested: its URL
    // headers may hold secrets).
    fn import_key(&self, request: &ImportFileRequest) -> Result<String> {
        use md5::Digest as _;
        let asked = serde_json::to_vec(request)
            .map_err(|_| Error::Internal("a request body did not serialize"))?;
        let creds = &self.inner.credentials;
        Ok(format!(
            "wix-import\n{}\n{:?}\n{}",
            creds.api_base(),
            creds.scope(),
            hex(&md5::Md5::digest(&asked).into())
        ))
    }

    // One bulk request of at most 100 imports, never sent again blindly: after a lost answer
    // each import is looked for (its URL, name and folder, created since the request began)
    // until the list lag has passed, and only those that did not land go again. `Err` only
    // when the first request fails for good (nothing was imported).
    pub(super) fn import_chunk(
        &self,
        rest: &Rest<'_>,
        chunk: &[ImportFileRequest],
    ) -> Result<Vec<std::result::Result<FileDescriptor, ItemError>>> {
        let started = rest.engine.now();
        let mut out: Vec<Option<std::result::Result<FileDescriptor, ItemError>>> =
            vec![None; chunk.len()];
        let mut pending: Vec<usize> = (0..chunk.len()).collect();
        for round in 0..=LOOKS {
            let batch: Vec<ImportFileRequest> = pending.iter().map(|&i| chunk[i].clone()).collect();
            match rest.run_creating(&BulkImport(&batch)) {
                Ok(items) => {
                    for (&i, item) in pending.iter().zip(items) {
                        out[i] = Some(item);
                    }
                    break;
                }
                Err(e) if e.is_outcome_unknown() && round < LOOKS => {
                    pending = self.find_imports(rest, chunk, pending, started, &mut out)?;
                    if pending.is_empty() {
                        break;
                    }
                }
                Err(e) if round == 0 => return Err(e),
                Err(e) => {
                    let e = std::sync::Arc::new(e);
                    for &i in &pending {
                        out[i] = Some(Err(ItemError::Request(e.clone())));
                    }
                    break;
                }
            }
        }
        let done: Vec<_> = out
            .into_iter()
            .map(|o| o.unwrap_or(Err(ItemError::Unanswered)))
            .collect();
        for file in done.iter().flatten() {
            self.take(file);
        }
        Ok(done)
    }

    // Notes `file` as an upload's result: never taken for another's.
    fn take(&self, file: &FileDescriptor) {
        if let Some(id) = &file.id {
            self.inner.taken.insert(id);
        }
    }

    // Looks for the imports `pending` of `chunk` (sent at `started`), until the list lag has
    // passed: those found go into `out`; those not found are returned.
    fn find_imports(
        &self,
        rest: &Rest<'_>,
        chunk: &[ImportFileRequest],
        pending: Vec<usize>,
        started: std::time::SystemTime,
        out: &mut [Option<std::result::Result<FileDescriptor, ItemError>>],
    ) -> Result<Vec<usize>> {
        let lookout = self.lookout(rest);
        let deadline = rest.engine.now() + self.inner.list_lag;
        let mut missing = Vec::new();
        for i in pending {
            let r = &chunk[i];
            let intent = import_intent(r, started);
            match lookout.find(&intent.expected(), deadline)? {
                Some(file) => {
                    self.take(&file);
                    out[i] = Some(Ok(file));
                }
                None => missing.push(i),
            }
        }
        log::info!(
            "a bulk import's answer was lost: {} of its imports landed, {} go again",
            out.iter().filter(|o| o.is_some()).count(),
            missing.len()
        );
        Ok(missing)
    }
}

/// How many times a bulk import's imports are looked for after lost answers.
const LOOKS: usize = 3;

/// What an import creates (its first attempt starting at `started`).
fn import_intent(request: &ImportFileRequest, started: std::time::SystemTime) -> Intent {
    Intent {
        route: KeptRoute::Import,
        display_name: request.display_name.clone(),
        size_in_bytes: None,
        source_url: Some(request.url.clone()),
        parent_folder_id: request.options.parent_folder_id.clone(),
        file_path: request.options.file_path.clone(),
        md5: None,
        started_ms: crate::store::unix_ms(started),
    }
}

// A 413, or a connection a server closed while the body was still going out (retries over);
// never an answer lost after the body was sent whole (the file may exist).
fn refused_as_too_large(e: &Error) -> bool {
    let e = e.last_attempt();
    e.status() == Some(413) || crate::engine::transport::lost_connection(e)
}
