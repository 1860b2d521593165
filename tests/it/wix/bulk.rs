//! Fewer requests against the emulator: bulk import (100 a request, results by index) and
//! waiting for many files with get-files.

use std::time::Duration;

use wix_media_emulator::EmulatorConfig;
use wix_media_testkit::emulator::Emu;
use wix_media_testkit::raw_server::file_server;
use wix_media_upload::wix::{
    FileDescriptor, ImportFileRequest, ItemError, OperationStatus, WixClient,
};
use wix_media_upload::{AbortHandle, Error};

use crate::support::{EmuExt, pseudo_random_bytes};

/// Requests per route since the last reset, without the zero ones.
fn counts(emu: &Emu) -> Vec<(String, u64)> {
    emu.emu
        .route_counts()
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn count(emu: &Emu, route: &str) -> u64 {
    emu.emu.route_counts().get(route).copied().unwrap_or(0)
}

const REFUSED: usize = 137;
const FAILS: usize = 5;

#[test]
fn a_bulk_import_of_250_urls_takes_3_requests_and_reports_each_item() {
    let emu = Emu::with(EmulatorConfig::new().processing_delay(Duration::ZERO));
    let client = WixClient::builder(emu.credentials()).build().unwrap();
    let bytes = pseudo_random_bytes(3000, 7);
    let source = file_server(bytes.clone(), "image/png");
    let requests: Vec<ImportFileRequest> = (0..250)
        .map(|i| {
            let url = match i {
                // Not an absolute http(s) URL: refused at once.
                REFUSED => "ftp://127.0.0.1/x.png".to_owned(),
                // Accepted, then FAILED: the emulator fetches only from 127.0.0.1.
                FAILS => "http://example.invalid/x.png".to_owned(),
                _ => source.url(&format!("/img{i}.png")),
            };
            ImportFileRequest::new(url).display_name(format!("img{i}.png"))
        })
        .collect();
    let out = client.import_many(&requests).unwrap();
    assert_eq!(counts(&emu), [("POST bulk-import-v2".to_owned(), 3)]);
    assert_eq!(out.len(), 250);
    let mut files: Vec<&FileDescriptor> = Vec::new();
    for (i, result) in out.iter().enumerate() {
        match result {
            Ok(file) => {
                // Matched by index: the emulator answers in another order.
                assert_eq!(file.display_name, Some(format!("img{i}.png")), "item {i}");
                files.push(file);
            }
            Err(ItemError::Refused { code, .. }) if i == REFUSED => assert!(code.is_some()),
            Err(e) => panic!("item {i}: {e}"),
        }
    }
    assert_eq!(files.len(), 249);

    // Waiting for all of them: get-files, never one read per file.
    let done = client
        .wait_processed_all(files.iter().copied(), Duration::from_secs(120), None)
        .unwrap();
    assert_eq!(count(&emu, "GET get-file-by-id"), 0);
    assert!(count(&emu, "POST get-files") >= 3, "{:?}", counts(&emu));
    for (file, asked) in done.iter().zip(&files) {
        assert_eq!(file.id, asked.id);
        let expected = match asked.display_name.as_deref() {
            Some("img5.png") => OperationStatus::Failed,
            _ => OperationStatus::Ready,
        };
        assert_eq!(
            file.operation_status,
            Some(expected),
            "{:?}",
            file.display_name
        );
    }
    let first = done[0].id.as_deref().unwrap();
    assert_eq!(emu.emu.file_bytes(first), Some(bytes));

    // All processed already: one round of reads, 100 ids a request.
    emu.emu.reset_request_counts();
    let ids: Vec<String> = done.iter().map(|f| f.id.clone().unwrap()).collect();
    let again = client
        .wait_processed_all(&ids, Duration::from_secs(60), None)
        .unwrap();
    assert_eq!(counts(&emu), [("POST get-files".to_owned(), 3)]);
    assert_eq!(again.len(), 249);
    // Descriptors already processed need no request at all.
    emu.emu.reset_request_counts();
    let same = client
        .wait_processed_all(&done, Duration::from_secs(60), None)
        .unwrap();
    assert_eq!(same, done);
    assert!(counts(&emu).is_empty(), "{:?}", counts(&emu));
}

#[test]
fn files_still_pending_come_back_as_they_are_and_a_wait_can_be_aborted() {
    // Imports stay PENDING for the whole test.
    let emu = Emu::with(EmulatorConfig::new().processing_delay(Duration::from_secs(3600)));
    let client = WixClient::builder(emu.credentials()).build().unwrap();
    let source = file_server(vec![1; 100], "image/png");
    let requests: Vec<ImportFileRequest> = (0..3)
        .map(|i| ImportFileRequest::new(source.url(&format!("/p{i}.png"))))
        .collect();
    let files: Vec<FileDescriptor> = client
        .import_many(&requests)
        .unwrap()
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    emu.emu.reset_request_counts();
    let pending = client
        .wait_processed_all(&files, Duration::ZERO, None)
        .unwrap();
    assert_eq!(counts(&emu), [("POST get-files".to_owned(), 1)]);
    assert!(
        pending
            .iter()
            .all(|f| f.operation_status == Some(OperationStatus::Pending))
    );
    let abort = AbortHandle::new();
    abort.abort();
    let err = client
        .wait_processed_all(&files, Duration::from_secs(3600), Some(&abort))
        .unwrap_err();
    assert!(matches!(err, Error::Aborted), "{err:?}");
    // An id never read (404s are taken for a file too new to be seen) is not ready.
    let err = client
        .wait_processed_all(["no-such-file"], Duration::ZERO, None)
        .unwrap_err();
    assert!(
        matches!(&err, Error::NotReady { file_id, .. } if &**file_id == "no-such-file"),
        "{err:?}"
    );
}
