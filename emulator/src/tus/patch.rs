//! `PATCH`: appends a body at the upload's offset (and may set a deferred length).

use super::body::{WriteEnd, parse_checksum, write_body};
use super::{
    Step, answer, bad_request, expires_header, fail, live_upload, parse_u64, require_octet_stream,
    require_resumable, tus,
};
use crate::State;
use crate::http::{Outcome, Request};
use crate::store::{Busy, Concat, UploadRecord};

pub(super) fn patch(state: &State, req: &mut Request<'_>, id: &str) -> Outcome {
    answer(patching(state, req, id))
}

fn patching(state: &State, req: &mut Request<'_>, id: &str) -> Step<Outcome> {
    require_resumable(req)?;
    require_octet_stream(req)?;
    let rec = live_upload(state, id)?;
    if matches!(rec.concat, Concat::Final(_)) {
        return Err(fail(
            403,
            "PERMISSION_DENIED",
            "a final upload can't be patched",
        ));
    }
    let offset =
        parse_u64(req, "Upload-Offset")?.ok_or_else(|| bad_request("Upload-Offset is required"))?;
    let new_length = parse_u64(req, "Upload-Length")?;
    let checksum = parse_checksum(state, req)?;
    let claimed = claim(state, id, checksum.is_some())?;
    let start = claimed.offset;
    // From here on every refusal releases the claim first.
    let rec = match check_claimed(state, req, claimed, offset, new_length) {
        Ok(rec) => rec,
        Err(refused) => {
            let _ = state.store.end_write(id, start);
            return Err(refused);
        }
    };
    Ok(match write_body(state, req, &rec, checksum) {
        WriteEnd::Done(rec) => Outcome::Respond(expires_header(
            tus(204).header("Upload-Offset", rec.offset.to_string()),
            &rec,
        )),
        WriteEnd::ChecksumMismatch => fail(
            460,
            "INVALID_ARGUMENT",
            "Upload-Checksum does not match the body",
        ),
        WriteEnd::TooLarge => fail(413, "INVALID_ARGUMENT", "body is longer than allowed"),
        WriteEnd::Gone => Outcome::Drop,
        WriteEnd::Io(e) => fail(500, "INTERNAL", &e),
    })
}

/// Claims the upload for this request's body (one writer at a time).
fn claim(state: &State, id: &str, checksummed: bool) -> Step<UploadRecord> {
    state
        .store
        .begin_write(id, checksummed)
        .map_err(|busy| match busy {
            Busy::NotFound => fail(404, "NOT_FOUND", "upload not found"),
            Busy::Io(e) => fail(500, "INTERNAL", &e.to_string()),
            Busy::Locked => fail(
                409,
                "ALREADY_EXISTS",
                "another request is writing this upload",
            ),
        })
}

/// Checks the request against the record the claim re-read (not an earlier snapshot):
/// the offset, a length being set, and a body that fits.
fn check_claimed(
    state: &State,
    req: &Request<'_>,
    mut rec: UploadRecord,
    offset: u64,
    new_length: Option<u64>,
) -> Step<UploadRecord> {
    if offset != rec.offset {
        return Err(fail(
            409,
            "ALREADY_EXISTS",
            &format!(
                "Upload-Offset {offset} does not match the upload's {}",
                rec.offset
            ),
        ));
    }
    if let Some(n) = new_length {
        set_length(state, &mut rec, n)?;
    }
    if let (Some(l), Some(cl)) = (rec.length, req.body.content_length())
        && cl > l - rec.offset
    {
        return Err(fail(
            413,
            "INVALID_ARGUMENT",
            "body goes past Upload-Length",
        ));
    }
    Ok(rec)
}

/// `Upload-Length` on a PATCH: sets a deferred length once; a known one can't change.
fn set_length(state: &State, rec: &mut UploadRecord, n: u64) -> Step<()> {
    match rec.length {
        Some(l) if l != n => Err(bad_request("Upload-Length can't change once set")),
        Some(_) => Ok(()),
        None if n < rec.offset => Err(bad_request("Upload-Length is below the current offset")),
        None if n > state.config.max_file_size => Err(fail(
            413,
            "INVALID_ARGUMENT",
            "Upload-Length is over Tus-Max-Size",
        )),
        None => {
            if let Err(e) = state.store.update(&rec.id, |r| r.length = Some(n)) {
                return Err(fail(500, "INTERNAL", &e.to_string()));
            }
            rec.length = Some(n);
            Ok(())
        }
    }
}
