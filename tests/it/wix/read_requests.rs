//! The read side's requests, exactly (paths, queries, JSON bodies, headers), and how their
//! answers are read, against mockito.

use std::time::Duration;

use crate::support::clock::ManualClock;
use mockito::{Matcher, Mock, Server, ServerGuard};
use serde_json::{Value, json};
use wix_media_upload::wix::{
    FileUpdate, ImportFileRequest, ItemError, ListFiles, ListFolders, MEDIA_ROOT, MediaType,
    OperationStatus, RootFolder, SearchFiles, SortField, SortOrder, WixClient,
};
use wix_media_upload::{Credentials, Error, RetryPolicy, Uploader};

const KEY: &str = "IST.read-key-0123456789";
const SITE: &str = "5f3e-site";

fn client(server: &Server, clock: &ManualClock) -> WixClient {
    client_with(server, clock, RetryPolicy::none())
}

fn client_with(server: &Server, clock: &ManualClock, retry: RetryPolicy) -> WixClient {
    WixClient::builder(Credentials::site(KEY, SITE).with_api_base(server.url()))
        .uploader(Uploader::builder().clock(clock.clone()).retry(retry))
        .build()
        .unwrap()
}

/// A REST call with the site's credentials.
fn rest(server: &mut ServerGuard, method: &str, path: &str) -> Mock {
    server
        .mock(method, path)
        .match_header("Authorization", KEY)
        .match_header("wix-site-id", SITE)
}

/// A POST or PATCH whose body is exactly `body`.
fn json_call(server: &mut ServerGuard, method: &str, path: &str, body: Value) -> Mock {
    rest(server, method, path)
        .match_header("Content-Type", "application/json")
        .match_body(Matcher::Json(body))
}

fn files_page(ids: &[&str], next: Option<&str>) -> String {
    let files: Vec<Value> = ids.iter().map(|id| json!({"id": id})).collect();
    json!({"files": files, "nextCursor": {"cursors": {"next": next}}}).to_string()
}

fn ids(files: &[wix_media_upload::wix::FileDescriptor]) -> Vec<&str> {
    files.iter().map(|f| f.id.as_deref().unwrap()).collect()
}

#[test]
fn listing_files_sends_the_query_then_only_the_cursor() {
    let mut server = Server::new();
    let clock = ManualClock::new();
    let first = rest(&mut server, "GET", "/site-media/v1/files")
        .match_header("Content-Type", Matcher::Missing)
        .match_query(Matcher::Exact(
            "parentFolderId=folder%201&mediaTypes=IMAGE&mediaTypes=VECTOR&private=false\
             &sort.fieldName=sizeInBytes&sort.order=DESC&paging.limit=100"
                .into(),
        ))
        .with_body(files_page(&["a", "b"], Some("cur/1")))
        .expect(1)
        .create();
    let second = rest(&mut server, "GET", "/site-media/v1/files")
        .match_query(Matcher::Exact(
            "paging.limit=100&paging.cursor=cur%2F1".into(),
        ))
        .with_body(files_page(&["c"], None))
        .expect(1)
        .create();
    let query = ListFiles::new()
        .parent_folder_id("folder 1")
        .media_type(MediaType::Image)
        .media_type(MediaType::Vector)
        .private(false)
        .sort(SortField::SizeInBytes, SortOrder::Desc);
    let files: Vec<_> = client(&server, &clock)
        .list(query)
        .collect::<Result<_, _>>()
        .unwrap();
    first.assert();
    second.assert();
    assert_eq!(ids(&files), ["a", "b", "c"]);
}

#[test]
fn take_reads_only_the_pages_it_needs_and_a_page_without_cursor_is_the_last() {
    let mut server = Server::new();
    let clock = ManualClock::new();
    let first = rest(&mut server, "GET", "/site-media/v1/files")
        .match_query(Matcher::Exact("paging.limit=100".into()))
        .with_body(files_page(&["a", "b"], Some("n1")))
        .expect(2)
        .create();
    // No `nextCursor` at all.
    let second = rest(&mut server, "GET", "/site-media/v1/files")
        .match_query(Matcher::Exact("paging.limit=100&paging.cursor=n1".into()))
        .with_body(r#"{"files": [{"id": "c", "sizeInBytes": "12"}]}"#)
        .expect(1)
        .create();
    let client = client(&server, &clock);
    let two: Vec<_> = client
        .list(ListFiles::new())
        .take(2)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ids(&two), ["a", "b"]);
    let all: Vec<_> = client
        .list(ListFiles::new())
        .collect::<Result<_, _>>()
        .unwrap();
    // The first page twice (once per listing), the second once: `take(2)` never asked for it.
    first.assert();
    second.assert();
    assert_eq!(ids(&all), ["a", "b", "c"]);
    assert_eq!(all[2].size_in_bytes, Some(12));
}

#[test]
fn search_sends_a_json_body_and_pages_with_the_cursor_alone() {
    let mut server = Server::new();
    let clock = ManualClock::new();
    let path = "/site-media/v1/files/search";
    let body = json!({
        "search": "cat", "rootFolder": "TRASH_ROOT", "mediaTypes": ["IMAGE"],
        "sort": {"fieldName": "displayName", "order": "ASC"}, "paging": {"limit": 200}
    });
    let first = json_call(&mut server, "POST", path, body)
        .with_body(files_page(&["t1"], Some("s2")))
        .expect(1)
        .create();
    let next = json!({"paging": {"limit": 200, "cursor": "s2"}});
    let second = json_call(&mut server, "POST", path, next)
        .with_body(files_page(&["t2"], None))
        .expect(1)
        .create();
    let query = SearchFiles::new()
        .search("cat")
        .root_folder(RootFolder::Trash)
        .media_type(MediaType::Image)
        .sort(SortField::DisplayName, SortOrder::Asc);
    let files: Vec<_> = client(&server, &clock)
        .list(query)
        .collect::<Result<_, _>>()
        .unwrap();
    first.assert();
    second.assert();
    assert_eq!(ids(&files), ["t1", "t2"]);
}

#[test]
fn folder_calls() {
    let mut server = Server::new();
    let clock = ManualClock::new();
    let folder = |id: &str, name: &str| json!({"folder": {"id": id, "displayName": name}});
    let body = json!({"displayName": "a b", "parentFolderId": MEDIA_ROOT});
    let create = json_call(&mut server, "POST", "/site-media/v1/folders", body)
        .with_body(folder("f1", "a b").to_string())
        .expect(1)
        .create();
    let get = rest(&mut server, "GET", "/site-media/v1/folders/f%2F1")
        .with_body(folder("f/1", "x").to_string())
        .expect(1)
        .create();
    let list = rest(&mut server, "GET", "/site-media/v1/folders")
        .match_query(Matcher::Exact(
            "parentFolderId=f1&sort.fieldName=updatedDate&sort.order=DESC&paging.limit=100".into(),
        ))
        .with_body(r#"{"folders": [{"id": "c1", "displayName": "c"}], "nextCursor": {}}"#)
        .expect(1)
        .create();
    let client = client(&server, &clock);
    assert_eq!(client.create_folder(MEDIA_ROOT, "a b").unwrap().id, "f1");
    assert_eq!(client.get_folder("f/1").unwrap().id, "f/1");
    let query = ListFolders::new()
        .parent_folder_id("f1")
        .sort(SortField::UpdatedDate, SortOrder::Desc);
    let children: Vec<_> = client.list(query).collect::<Result<_, _>>().unwrap();
    create.assert();
    get.assert();
    list.assert();
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].display_name.as_deref(), Some("c"));
}

#[test]
fn resolving_a_path_lists_one_folder_per_level_and_takes_the_oldest_of_a_name() {
    let mut server = Server::new();
    let clock = ManualClock::new();
    let top = json!({"folders": [
        {"id": "a-new", "displayName": "a", "createdDate": "2025-02-01T00:00:00.000Z"},
        {"id": "a-old", "displayName": "a", "createdDate": "2024-02-01T00:00:00.000Z"},
        {"id": "z", "displayName": "z"},
    ]});
    let root = rest(&mut server, "GET", "/site-media/v1/folders")
        .match_query(Matcher::Exact(
            "parentFolderId=media-root&paging.limit=100".into(),
        ))
        .with_body(top.to_string())
        .expect(2)
        .create();
    let below = json!({"folders": [{"id": "b1", "displayName": "b", "state": "OK"}]});
    let level2 = rest(&mut server, "GET", "/site-media/v1/folders")
        .match_query(Matcher::Exact(
            "parentFolderId=a-old&paging.limit=100".into(),
        ))
        .with_body(below.to_string())
        .expect(2)
        .create();
    let client = client(&server, &clock);
    assert_eq!(client.find_folder("/a/b").unwrap().unwrap().id, "b1");
    assert_eq!(client.find_folder("a/missing/deeper").unwrap(), None);
    // The root needs no request.
    assert_eq!(client.find_folder("/").unwrap().unwrap().id, MEDIA_ROOT);
    root.assert();
    level2.assert();
}

#[test]
fn update_sends_only_the_changes_with_patch() {
    let mut server = Server::new();
    let clock = ManualClock::new();
    let path = "/site-media/v1/files/update-file-descriptor";
    let body = json!({"file": {"id": "f1", "displayName": "new.png",
        "parentFolderId": "p2", "labels": ["x", "y"]}});
    let update = json_call(&mut server, "PATCH", path, body)
        .with_body(r#"{"file": {"id": "f1", "displayName": "new.png", "labels": ["x", "y"]}}"#)
        .expect(1)
        .create();
    let file = client(&server, &clock)
        .update_file(
            &FileUpdate::new("f1")
                .display_name("new.png")
                .parent_folder_id("p2")
                .labels(["x", "y"]),
        )
        .unwrap();
    update.assert();
    assert_eq!(file.labels, ["x", "y"]);
}

#[test]
fn trash_delete_and_restore_go_100_ids_a_request() {
    let mut server = Server::new();
    let clock = ManualClock::new();
    let names: Vec<String> = (0..250).map(|i| format!("id-{i}")).collect();
    let all: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut mocks = Vec::new();
    for (path, extra) in [
        ("/site-media/v1/bulk/files/delete", Some(false)),
        ("/site-media/v1/bulk/files/delete", Some(true)),
        ("/site-media/v1/bulk/trash-bin/files/restore", None),
    ] {
        for chunk in all.chunks(100) {
            let mut body = json!({ "fileIds": chunk });
            if let Some(permanent) = extra {
                body["permanent"] = json!(permanent);
            }
            mocks.push(
                json_call(&mut server, "POST", path, body)
                    .with_body("{}")
                    .expect(1)
                    .create(),
            );
        }
    }
    let client = client(&server, &clock);
    client.trash_files(&all).unwrap();
    client.delete_files_permanently(&all).unwrap();
    client.restore_files(&all).unwrap();
    // Nothing to do, no request.
    client.trash_files(&[]).unwrap();
    for mock in &mocks {
        mock.assert();
    }
}

#[test]
fn a_download_url_is_asked_for_one_file() {
    let mut server = Server::new();
    let clock = ManualClock::new();
    let path = "/site-media/v1/files/generate-file-download-url";
    let call = json_call(&mut server, "POST", path, json!({"fileId": "f1"}))
        .with_body(r#"{"downloadUrls": [{"url": "https://download.example/f1?token=t", "assetKey": "src"}]}"#)
        .expect(1)
        .create();
    let url = client(&server, &clock).download_url("f1").unwrap();
    call.assert();
    assert_eq!(url, "https://download.example/f1?token=t");
}

#[test]
fn get_files_reads_100_ids_a_request() {
    let mut server = Server::new();
    let clock = ManualClock::new();
    let names: Vec<String> = (0..150).map(|i| format!("f{i}")).collect();
    let all: Vec<&str> = names.iter().map(String::as_str).collect();
    let mocks: Vec<Mock> = all
        .chunks(100)
        .map(|chunk| {
            json_call(
                &mut server,
                "POST",
                "/site-media/v1/files/get-files",
                json!({"fileIds": chunk}),
            )
            .with_body(files_page(chunk, None))
            .expect(1)
            .create()
        })
        .collect();
    let files = client(&server, &clock).get_files(&all).unwrap();
    for mock in &mocks {
        mock.assert();
    }
    assert_eq!(ids(&files), all);
}

/// The answer of a bulk import of `chunk`, results in reverse order, refusing `refused`.
fn bulk_answer(chunk: &[(usize, String)], refused: usize) -> String {
    let results: Vec<Value> = chunk
        .iter()
        .enumerate()
        .rev()
        .map(|(index, (global, _))| match *global == refused {
            true => json!({"itemMetadata": {"originalIndex": index, "success": false,
                "error": {"code": "INVALID_ARGUMENT", "description": "bad url"}}}),
            false => json!({"itemMetadata": {"id": format!("file-{global}"), "originalIndex": index,
                "success": true}, "item": {"id": format!("file-{global}"), "operationStatus": "PENDING"}}),
        })
        .collect();
    json!({"results": results, "bulkActionMetadata": {}}).to_string()
}

#[test]
fn bulk_import_sends_100_a_request_and_matches_results_by_index() {
    let mut server = Server::new();
    let clock = ManualClock::new();
    let urls: Vec<(usize, String)> = (0..150)
        .map(|i| (i, format!("https://example.com/{i}.png")))
        .collect();
    let mocks: Vec<Mock> = urls
        .chunks(100)
        .map(|chunk| {
            let items: Vec<Value> = chunk
                .iter()
                .map(|(i, url)| json!({"url": url, "displayName": format!("n{i}")}))
                .collect();
            let body = json!({"importFileRequests": items, "returnEntity": true});
            json_call(
                &mut server,
                "POST",
                "/site-media/v1/bulk/files/import-v2",
                body,
            )
            .with_body(bulk_answer(chunk, 120))
            .expect(1)
            .create()
        })
        .collect();
    let requests: Vec<ImportFileRequest> = urls
        .iter()
        .map(|(i, url)| ImportFileRequest::new(url).display_name(format!("n{i}")))
        .collect();
    let out = client(&server, &clock).import_many(&requests).unwrap();
    for mock in &mocks {
        mock.assert();
    }
    assert_eq!(out.len(), 150);
    for (i, result) in out.iter().enumerate() {
        match result {
            Ok(file) => assert_eq!(file.id.as_deref(), Some(format!("file-{i}").as_str())),
            Err(ItemError::Refused { code, .. }) if i == 120 => {
                assert_eq!(code.as_deref(), Some("INVALID_ARGUMENT"));
            }
            Err(e) => panic!("item {i}: {e}"),
        }
    }
}

#[test]
fn a_failed_first_bulk_request_is_the_error_and_a_later_one_is_reported_per_item() {
    let mut server = Server::new();
    let clock = ManualClock::new();
    let path = "/site-media/v1/bulk/files/import-v2";
    let requests: Vec<ImportFileRequest> = (0..150)
        .map(|i| ImportFileRequest::new(format!("https://example.com/{i}.png")))
        .collect();
    let refused = rest(&mut server, "POST", path)
        .with_status(403)
        .with_body(r#"{"message": "no permission"}"#)
        .expect(1)
        .create();
    let client = client(&server, &clock);
    let err = client.import_many(&requests).unwrap_err();
    assert_eq!(err.status(), Some(403));
    refused.assert();
    refused.remove();

    let first: Vec<(usize, String)> = (0..100).map(|i| (i, String::new())).collect();
    // Matched in order: the first request gets `ok`, the second `failing`.
    let ok = rest(&mut server, "POST", path)
        .with_body(bulk_answer(&first, usize::MAX))
        .expect(1)
        .create();
    let failing = rest(&mut server, "POST", path)
        .with_status(400)
        .with_body(r#"{"message": "bad"}"#)
        .expect(1)
        .create();
    let out = client.import_many(&requests).unwrap();
    ok.assert();
    failing.assert();
    assert!(out[..100].iter().all(Result::is_ok));
    for result in &out[100..] {
        match result {
            Err(ItemError::Request(e)) => assert_eq!(e.status(), Some(400)),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn waiting_for_many_files_reads_only_the_pending_ones_again() {
    let mut server = Server::new();
    let clock = ManualClock::new();
    let path = "/site-media/v1/files/get-files";
    let both = json_call(
        &mut server,
        "POST",
        path,
        json!({"fileIds": ["a", "b", "c"]}),
    )
    .with_body(
        json!({"files": [
            {"id": "a", "operationStatus": "READY"},
            {"id": "b", "operationStatus": "PENDING"},
            {"id": "c", "operationStatus": "FAILED"},
        ]})
        .to_string(),
    )
    .expect(1)
    .create();
    let pending = json_call(&mut server, "POST", path, json!({"fileIds": ["b"]}))
        .with_body(r#"{"files": [{"id": "b", "operationStatus": "READY"}]}"#)
        .expect(1)
        .create();
    let files = client(&server, &clock)
        .wait_processed_all(["a", "b", "c"], Duration::from_secs(60), None)
        .unwrap();
    both.assert();
    pending.assert();
    let status: Vec<_> = files.iter().map(|f| f.operation_status.clone()).collect();
    assert_eq!(
        status,
        [
            Some(OperationStatus::Ready),
            Some(OperationStatus::Ready),
            Some(OperationStatus::Failed)
        ]
    );
    // One wait between the two reads: the first poll interval.
    assert_eq!(clock.slept(), Duration::from_millis(500));
}

#[test]
fn files_still_pending_at_the_timeout_come_back_as_they_are() {
    let mut server = Server::new();
    let clock = ManualClock::new();
    let reads = rest(&mut server, "POST", "/site-media/v1/files/get-files")
        .with_body(r#"{"files": [{"id": "a", "operationStatus": "PENDING"}]}"#)
        // At 0 s, 0.5 s, 1.25 s, and a last look at the 2 s deadline.
        .expect(4)
        .create();
    let files = client(&server, &clock)
        .wait_processed_all(["a"], Duration::from_secs(2), None)
        .unwrap();
    reads.assert();
    assert_eq!(files[0].operation_status, Some(OperationStatus::Pending));
    assert_eq!(clock.slept(), Duration::from_secs(2));
}

#[test]
fn read_errors_are_typed_and_retried_like_every_rest_call() {
    let mut server = Server::new();
    let clock = ManualClock::new();
    let missing = rest(&mut server, "GET", "/site-media/v1/folders/nope")
        .with_status(404)
        .with_body(
            r#"{"message": "folder nope not found", "details": {"applicationError":
                {"code": "NOT_FOUND", "description": "folder nope not found"}}}"#,
        )
        .expect(1)
        .create();
    let client = client_with(&server, &clock, RetryPolicy::from_millis(&[10]));
    let err = client.get_folder("nope").unwrap_err();
    missing.assert();
    assert_eq!(err.status(), Some(404));
    assert_eq!(
        err.wix().and_then(|w| w.code).as_deref(),
        Some("NOT_FOUND"),
        "{err}"
    );

    let flaky = rest(&mut server, "GET", "/site-media/v1/files")
        .match_query(Matcher::Any)
        .with_status(503)
        .expect(1)
        .create();
    let ok = rest(&mut server, "GET", "/site-media/v1/files")
        .match_query(Matcher::Any)
        .with_body(files_page(&["a"], None))
        .expect(1)
        .create();
    let files: Vec<_> = client
        .list(ListFiles::new())
        .collect::<Result<_, _>>()
        .unwrap();
    flaky.assert();
    ok.assert();
    assert_eq!(ids(&files), ["a"]);

    let html = rest(&mut server, "GET", "/site-media/v1/folders")
        .match_query(Matcher::Any)
        .with_body("<html>oops</html>")
        .create();
    let err = client
        .list(ListFolders::new())
        .next()
        .expect("the error")
        .unwrap_err();
    html.assert();
    assert!(
        matches!(err, Error::BadResponse { status: 200, .. }),
        "{err:?}"
    );
}
