//! The Wix finalize against a `mockito` server: the PUT to the token's URL, `wix::upload`
//! (tus, then finalize), and Wix error bodies.

use mockito::{Matcher, Mock};
use wix_media_tus::Method;
use wix_media_upload::wix::{self, ResumableTarget};
use wix_media_upload::{Error, Secret, Source, UploadOptions, Uploader};

use crate::support::clock::RecordingClock;
use crate::support::fixtures::{FINALIZE_EXAMPLE, assert_example_descriptor};
use crate::support::mock::{MockTus, TOKEN, answer, assert_all, created, uploader, wix_metadata};
use crate::support::state::{file_state_key, load};
use crate::support::{TempDir, temp_file_with};

/// The finalize PUT of [`TOKEN`]'s upload with `query`, as the SDK must send it.
fn finalize_put(tus: &mut MockTus, query: &str) -> Mock {
    tus.server
        .mock("PUT", format!("/upload/tus/{TOKEN}?{query}").as_str())
        .match_header("Content-Type", "application/json")
        .match_body(Matcher::Exact("{}".into()))
}

#[test]
fn finalize_puts_to_the_token_url_and_parses_the_example() {
    let mut tus = MockTus::new();
    let put = finalize_put(&mut tus, "filename=file%20name.jpg")
        .match_header("Content-Length", "2")
        .with_body(FINALIZE_EXAMPLE);
    let put = answer(put, 200, &[("Content-Type", "application/json")], 1);
    let uploader = Uploader::builder().build().unwrap();
    let file = wix::finalize(
        &uploader,
        &tus.at("/upload/tus"),
        &Secret::new(TOKEN),
        Some("file name.jpg"),
    )
    .unwrap();
    put.assert();
    assert_example_descriptor(&file);
}

#[test]
fn upload_to_wix_uploads_and_finalizes() {
    let mut tus = MockTus::new();
    let (file, bytes) = temp_file_with(10, 10);
    let target = ResumableTarget::new(
        tus.at("/upload/tus"),
        TOKEN,
        Some("photo 1.jpg".into()),
        "image/jpeg",
    );
    let meta = wix_metadata("photo 1.jpg", "image/jpeg", TOKEN);
    let post = created(tus.post("/upload/tus", 10), "/upload/tus/up-1")
        .match_header("Upload-Metadata", meta.encode().as_str())
        .expect(1)
        .create();
    let p0 = tus.takes("/upload/tus/up-1", 0, &bytes);
    let put = finalize_put(&mut tus, "filename=photo%201.jpg").with_body(FINALIZE_EXAMPLE);
    let put = answer(put, 200, &[], 1);

    let clock = RecordingClock::new();
    let state = TempDir::new("wmu-finalize-state");
    let up = uploader(&clock).state_dir(state.path()).build().unwrap();
    let source = Source::file(file.path()).unwrap();
    let key = file_state_key(&target.upload_url, file.path());
    let descriptor = wix::upload(&up, &target, source, UploadOptions::new())
        .unwrap()
        .file;
    assert_all(&[&post, &p0, &put]);
    assert_example_descriptor(&descriptor);
    assert_eq!(load(state.path(), &key), None, "record removed");
}

#[test]
fn finalize_errors_carry_the_wix_body() {
    let mut tus = MockTus::new();
    let validation = r#"{"message":"INVALID_ARGUMENT: file size is zero","details":{"validationError":{"fieldViolations":[{"field":"sizeInBytes","description":"must be positive","violatedRule":"OTHER","ruleName":"ZERO_FILE_SIZE"}]}}}"#;
    let not_found = r#"{"message":"upload not found","details":{"applicationError":{"code":"UPLOAD_NOT_FOUND","description":"no upload for this token","data":{}}}}"#;
    let bad = tus
        .server
        .mock("PUT", "/upload/tus/tok-400?filename=empty.txt")
        .with_status(400)
        .with_header("Content-Type", "application/json")
        .with_body(validation)
        .expect(1)
        .create();
    let missing = tus
        .server
        .mock("PUT", "/upload/tus/tok-404?filename=gone.txt")
        .with_status(404)
        .with_header("Content-Type", "application/json")
        .with_body(not_found)
        .expect(1)
        .create();
    let uploader = Uploader::builder().build().unwrap();
    let base = tus.at("/upload/tus");

    let err =
        wix::finalize(&uploader, &base, &Secret::new("tok-400"), Some("empty.txt")).unwrap_err();
    bad.assert();
    assert!(
        matches!(
            err,
            Error::Status {
                status: 400,
                ref request,
                ..
            } if request.method() == Method::Put
        ),
        "{err:?}"
    );
    let wix = err.wix().expect("wix body");
    assert_eq!(wix.message, "INVALID_ARGUMENT: file size is zero");
    assert!(wix.has_rule("ZERO_FILE_SIZE"));
    assert_eq!(
        wix.field_violations[0].field.as_deref(),
        Some("sizeInBytes")
    );
    assert_eq!(err.wix().and_then(|w| w.code).as_deref(), None);
    let shown = err.to_string();
    assert!(
        shown.contains("INVALID_ARGUMENT: file size is zero"),
        "{shown}"
    );
    assert!(shown.contains("ZERO_FILE_SIZE"), "{shown}");
    assert!(shown.contains("400"), "{shown}");
    assert!(!shown.contains("tok-400"), "{shown}");

    let err =
        wix::finalize(&uploader, &base, &Secret::new("tok-404"), Some("gone.txt")).unwrap_err();
    missing.assert();
    assert!(matches!(err, Error::Status { status: 404, .. }), "{err:?}");
    assert_eq!(
        err.wix().and_then(|w| w.code).as_deref(),
        Some("UPLOAD_NOT_FOUND")
    );
    assert_eq!(
        err.wix().unwrap().description.as_deref(),
        Some("no upload for this token")
    );
    let shown = err.to_string();
    assert!(shown.contains("upload not found"), "{shown}");
    assert!(shown.contains("UPLOAD_NOT_FOUND"), "{shown}");
    assert!(!shown.contains("tok-404"), "{shown}");
    assert!(!format!("{err:?}").contains("tok-404"));
}
