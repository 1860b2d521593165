//! The emulator's Wix routes beyond the resumable upload: the simple upload, import, reading
//! files back, processing, the rate limit, the site check and token expiry; driven with
//! plain `ureq` and raw TCP.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use wix_media_emulator::EmulatorConfig;

use wix_media_testkit::emulator::{
    AUTH, Emu, answered_file, data, file_id, generate_rule_cases, md5_hex, png, token_metadata,
};
use wix_media_testkit::http::{connect, encode, eventually, get, put_head, read_continue, send};

use crate::support::{ReadSide, Source};

// ---------------------------------------------------------------------------------------------
// Simple upload
// ---------------------------------------------------------------------------------------------

#[test]
fn simple_upload_stores_the_body_and_answers_a_descriptor() {
    let env = Emu::start();
    let folder = env.folder("gen", "media-root");
    let url = env.upload_url(&json!({
        "mimeType": "image/png", "fileName": "gen.png", "sizeInBytes": "5000",
        "parentFolderId": folder, "private": true, "labels": ["a"],
        "externalInfo": {"origin": "tests", "externalIds": ["x-1"]},
        // Not a field of the simple route: ignored.
        "uploadProtocol": "whatever"
    }));
    let prefix = format!("{}/upload/", env.emu.base_url());
    let token = url.strip_prefix(&prefix).expect("{base}/upload/<token>");
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "JWT-shaped: {token}");
    let payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("base64url"))
            .expect("json");
    let lifetime = payload["exp"].as_u64().unwrap() - payload["iat"].as_u64().unwrap();
    assert_eq!(lifetime, 24 * 60 * 60, "simple upload URLs live 24 h");
    assert_eq!(env.emu.issued_upload_urls(), vec![url.clone()]);
    assert!(env.emu.issued_tokens().is_empty(), "not a resumable token");

    let bytes = png(370, 226, 5000);
    let r = env.put(
        &format!("{url}?filename=my%20pic+1.png"),
        "image/png",
        &bytes,
    );
    let file = &answered_file(
        &r,
        &json!({
            "displayName": "my pic 1.png", "hash": md5_hex(&bytes), "sizeInBytes": "5000",
            "mediaType": "IMAGE", "operationStatus": "READY", "parentFolderId": folder,
            "private": true, "labels": ["a"], "siteId": "site-1"
        }),
    );
    assert_eq!(file["externalInfo"]["externalIds"], json!(["x-1"]));
    assert_eq!(file["media"]["image"]["image"]["width"], 370);
    assert_eq!(file["media"]["image"]["image"]["height"], 226);
    let id = file_id(&r);
    assert!(id.contains("~mv2.png"), "{id}");
    assert_eq!(env.emu.file_bytes(&id), Some(bytes));
    assert_eq!(env.emu.files(), vec![file.clone()]);
    let read = env.get_file(&id);
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(&read.json()["file"], file);
}

#[test]
fn a_simple_upload_url_is_single_use() {
    let env = Emu::start();
    let url = env.upload_url(&json!({"mimeType": "text/plain", "fileName": "a.txt"}));
    assert_eq!(env.put(&url, "text/plain", b"first").status, 200);
    let again = env.put(&url, "text/plain", b"second");
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(again.code().as_deref(), Some("ALREADY_EXISTS"));
    assert_eq!(env.emu.files().len(), 1);
    let unknown = env.put(
        &format!("{}/upload/not-a-token", env.emu.base_url()),
        "text/plain",
        b"x",
    );
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.code().as_deref(), Some("NOT_FOUND"));
}

#[test]
fn simple_upload_filename_is_optional_only_with_a_generated_file_name() {
    let env = Emu::start();
    let with_name = env.upload_url(&json!({"mimeType": "application/pdf", "fileName": "doc.pdf"}));
    let r = env.put(&with_name, "application/pdf", b"%PDF-1.4");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["file"]["displayName"], "doc.pdf");
    assert_eq!(r.json()["file"]["mediaType"], "DOCUMENT");

    let without = env.upload_url(&json!({"mimeType": "application/pdf"}));
    let r = env.put(&without, "application/pdf", b"%PDF-1.4");
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json()["details"]["validationError"]["fieldViolations"][0]["field"],
        "filename"
    );
    // The refusal didn't use the URL up.
    let r = env.put(
        &format!("{without}?filename=b.pdf"),
        "application/pdf",
        b"%PDF",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["file"]["displayName"], "b.pdf");
}

#[test]
fn generate_upload_url_validates_like_the_resumable_generate() {
    let env = Emu::with(EmulatorConfig::new().max_file_size(1000));
    let no_type = (json!({"fileName": "a.png"}), "REQUIRED_FIELD");
    for (body, rule) in generate_rule_cases().into_iter().chain([no_type]) {
        let r = env.rest("generate-upload-url", &body);
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.rule_names(), vec![rule.to_string()], "{}", r.body);
    }
    assert!(env.emu.issued_upload_urls().is_empty());
    // An empty body is a zero-size file.
    let url = env.upload_url(&json!({"mimeType": "image/png", "fileName": "a.png"}));
    let r = env.put(&url, "image/png", b"");
    assert_eq!(r.status, 400);
    assert_eq!(r.rule_names(), vec!["ZERO_FILE_SIZE".to_string()]);
}

/// A simple upload URL for a text file, and a raw connection that has sent the head of a PUT
/// to it with the `extra` header lines (each ending in CRLF).
fn raw_simple_put(env: &Emu, extra: &str) -> (String, TcpStream) {
    let url = env.upload_url(&json!({"mimeType": "text/plain", "fileName": "a.txt"}));
    let path = url.strip_prefix(env.emu.base_url()).expect("path");
    let mut s = connect(env.emu.addr());
    s.write_all(put_head(path, extra).as_bytes())
        .expect("write");
    (url, s)
}

#[test]
fn a_simple_upload_cut_short_stores_nothing_and_leaves_the_url_usable() {
    let env = Emu::start();
    let (url, mut s) = raw_simple_put(&env, "Content-Length: 100000\r\n");
    s.write_all(&[b'a'; 30_000]).expect("write");
    drop(s);
    let bytes = data(100_000);
    // Once the server has seen the cut, the same URL takes a whole body.
    let done = eventually("the URL is usable again", || {
        let r = env.put(&url, "text/plain", &bytes);
        (r.status != 409).then_some(r)
    });
    assert_eq!(done.status, 200, "{}", done.body);
    let files = env.emu.files();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["sizeInBytes"], "100000");
    assert_eq!(env.emu.file_bytes(&file_id(&done)), Some(bytes));
}

#[test]
fn simple_upload_honours_expect_continue() {
    let env = Emu::start();
    let extra = "Content-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n";
    let (_, mut s) = raw_simple_put(&env, extra);
    read_continue(&mut s);
    s.write_all(b"hello").expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains(&md5_hex(b"hello")), "{out}");
}

#[test]
fn expired_upload_urls_and_tokens_answer_401() {
    let env = Emu::with(
        EmulatorConfig::new()
            .upload_url_ttl(Duration::ZERO)
            .token_ttl(Duration::ZERO),
    );
    let url = env.upload_url(&json!({"mimeType": "text/plain", "fileName": "a.txt"}));
    let r = env.put(&url, "text/plain", b"abc");
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.code().as_deref(), Some("UNAUTHENTICATED"));
    assert!(env.emu.files().is_empty());

    let token = env.token_for(&json!({"mimeType": "text/plain"}));
    let created = env.create(&token, 3);
    assert_eq!(created.status, 401, "{}", created.body);
    assert_eq!(created.code().as_deref(), Some("UNAUTHENTICATED"));
    let fin = env.finalize(&token, Some("a.txt"));
    assert_eq!(fin.status, 401, "{}", fin.body);
}

#[test]
fn a_token_expiring_between_upload_and_finalize_cannot_finalize() {
    // Long enough for a generate, a POST and a PATCH on a loaded machine.
    let ttl = Duration::from_secs(4);
    let env = Emu::with(EmulatorConfig::new().token_ttl(ttl));
    let started = Instant::now();
    let token = env.token_for(&json!({"mimeType": "text/plain", "fileName": "a.txt"}));
    let meta = token_metadata(&token);
    let headers = [
        ("Upload-Length", "3"),
        ("Upload-Metadata", meta.as_str()),
        ("Content-Type", "application/offset+octet-stream"),
    ];
    let created = env.tus("POST", &env.tus_url(), &headers, b"abc");
    assert_eq!(created.status, 201, "{}", created.body);
    std::thread::sleep((ttl + Duration::from_millis(200)).saturating_sub(started.elapsed()));
    let fin = env.finalize(&token, None);
    assert_eq!(fin.status, 401, "{}", fin.body);
    assert!(env.emu.files().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Resumable finalize and reading files back
// ---------------------------------------------------------------------------------------------

#[test]
fn finalize_filename_is_optional_only_with_a_generated_file_name() {
    let env = Emu::start();
    let r = env.resumable(
        &json!({"mimeType": "text/plain", "fileName": "given.txt"}),
        b"abc",
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["file"]["displayName"], "given.txt");
    let r = env.resumable(&json!({"mimeType": "text/plain"}), b"abc", None);
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.json()["details"]["validationError"]["fieldViolations"][0]["field"],
        "filename"
    );
}

#[test]
fn files_of_every_route_are_readable() {
    let env = Emu::with(EmulatorConfig::new().processing_delay(Duration::ZERO));
    let resumable = env.resumable(
        &json!({"mimeType": "image/png"}),
        &png(3, 4, 100),
        Some("r.png"),
    );
    assert_eq!(resumable.status, 200, "{}", resumable.body);
    let simple_url = env.upload_url(&json!({"mimeType": "text/plain", "fileName": "s.txt"}));
    let simple = env.put(&simple_url, "text/plain", b"simple");
    let source = Source::start();
    let import = env.rest("import", &json!({"url": source.url("/pic.png")}));
    assert_eq!(import.status, 200, "{}", import.body);
    let ids = [file_id(&resumable), file_id(&simple), file_id(&import)];
    env.settled(&ids[2]);

    for id in &ids {
        let r = env.get_file(id);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["file"]["id"], id.as_str());
        assert_eq!(r.json()["file"]["operationStatus"], "READY");
        // The other reading route.
        let url = format!("{}/{}", env.emu.files_url(), encode(id));
        let r = get(&env.agent, &url, &AUTH);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["file"]["id"], id.as_str());
    }
    // `wix:image://` ids are accepted too.
    let uri = format!(
        "wix:image://v1/{}/r.png#originWidth=3&originHeight=4",
        ids[0]
    );
    assert_eq!(env.get_file(&uri).json()["file"]["id"], ids[0].as_str());

    let many = env.rest("get-files", &json!({"fileIds": ids}));
    assert_eq!(many.status, 200, "{}", many.body);
    let got: Vec<String> = many.json()["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(got, ids);
    assert_eq!(env.emu.files().len(), 3);
}

#[test]
fn unknown_files_are_404_and_bad_reads_400() {
    let env = Emu::start();
    let r = env.get_file("2acbb8_nope~mv2.png");
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.code().as_deref(), Some("NOT_FOUND"));
    let r = get(
        &env.agent,
        &format!("{}/get-file-by-id", env.emu.files_url()),
        &AUTH,
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.rule_names(), vec!["REQUIRED_FIELD".to_string()]);
    let r = env.rest("get-files", &json!({}));
    assert_eq!(r.status, 400);
    let simple_url = env.upload_url(&json!({"mimeType": "text/plain", "fileName": "s.txt"}));
    let id = file_id(&env.put(&simple_url, "text/plain", b"x"));
    let r = env.rest("get-files", &json!({"fileIds": [id, "missing"]}));
    assert_eq!(r.status, 404, "{}", r.body);
    // Another site's file is not found.
    let r = env.get_file_as(
        &id,
        &[("Authorization", "k"), ("wix-site-id", "other-site")],
    );
    assert_eq!(r.status, 404);
}

#[test]
fn lookup_delay_hides_new_files_for_a_while() {
    let env = Emu::with(EmulatorConfig::new().lookup_delay(Duration::from_secs(3600)));
    let url = env.upload_url(&json!({"mimeType": "text/plain", "fileName": "s.txt"}));
    let id = file_id(&env.put(&url, "text/plain", b"x"));
    assert_eq!(env.get_file(&id).status, 404);
    assert_eq!(env.emu.files().len(), 1, "the inspection helper sees it");

    let env = Emu::with(EmulatorConfig::new().lookup_delay(Duration::from_millis(300)));
    let url = env.upload_url(&json!({"mimeType": "text/plain", "fileName": "s.txt"}));
    let id = file_id(&env.put(&url, "text/plain", b"x"));
    eventually("the file shows up", || {
        (env.get_file(&id).status == 200).then_some(())
    });
}

// ---------------------------------------------------------------------------------------------
// Processing
// ---------------------------------------------------------------------------------------------

#[test]
fn videos_are_pending_for_the_processing_delay_other_files_ready_at_once() {
    let env = Emu::with(EmulatorConfig::new().processing_delay(Duration::from_secs(3600)));
    let video = env.resumable(&json!({"mimeType": "video/mp4"}), b"vid", Some("v.mp4"));
    assert_eq!(video.status, 200, "{}", video.body);
    let file = &video.json()["file"];
    assert_eq!(file["operationStatus"], "PENDING");
    assert_eq!(file["mediaType"], "VIDEO");
    assert_eq!(file["hash"], md5_hex(b"vid"), "the bytes are in");
    assert_eq!(file["media"]["video"]["resolutions"], json!([]));
    let url = env.upload_url(&json!({"mimeType": "video/mp4", "fileName": "v.mp4"}));
    assert_eq!(
        env.put(&url, "video/mp4", b"vid").json()["file"]["operationStatus"],
        "PENDING"
    );
    let image = env.resumable(&json!({"mimeType": "image/png"}), b"img", Some("i.png"));
    assert_eq!(image.json()["file"]["operationStatus"], "READY");

    let env = Emu::with(EmulatorConfig::new().processing_delay(Duration::from_millis(300)));
    let video = env.resumable(&json!({"mimeType": "video/mp4"}), b"vid", Some("v.mp4"));
    let id = file_id(&video);
    let file = env.settled(&id);
    assert_eq!(file["operationStatus"], "READY");
    assert_eq!(
        file["media"]["video"]["resolutions"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert!(
        file["updatedDate"].as_str() > file["createdDate"].as_str(),
        "{file}"
    );

    let env = Emu::with(EmulatorConfig::new().processing_delay(Duration::ZERO));
    let video = env.resumable(&json!({"mimeType": "video/mp4"}), b"vid", Some("v.mp4"));
    assert_eq!(video.json()["file"]["operationStatus"], "READY");
}

// ---------------------------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------------------------

#[test]
fn import_answers_pending_then_fetches_and_becomes_ready() {
    let env = Emu::with(EmulatorConfig::new().processing_delay(Duration::from_millis(200)));
    let source = Source::start();
    let parent = env.folder("f-2", "media-root");
    let r = env.rest(
        "import",
        &json!({
            "url": source.url("/pic.png"), "displayName": "imported.png",
            "parentFolderId": parent, "private": false, "labels": ["imp"],
            "filePath": "/imports", "externalInfo": {"origin": "crm", "externalIds": ["42"]}
        }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let file = &r.json()["file"];
    assert_eq!(file["operationStatus"], "PENDING");
    assert!(
        file.get("media").is_none(),
        "no media while pending: {file}"
    );
    assert_eq!(file["displayName"], "imported.png");
    assert_eq!(file["mediaType"], "IMAGE");
    assert_eq!(file["sourceUrl"], source.url("/pic.png"));
    assert_eq!(file["externalInfo"]["origin"], "crm");
    let id = file_id(&r);
    let ready = env.settled(&id);
    assert_eq!(ready["operationStatus"], "READY", "{ready}");
    assert_eq!(ready["sizeInBytes"], source.pic.len().to_string());
    assert_eq!(ready["hash"], md5_hex(&source.pic));
    assert_eq!(ready["media"]["image"]["image"]["width"], 12);
    assert_eq!(ready["media"]["image"]["image"]["height"], 34);
    // `filePath` is below `parentFolderId`.
    let folder = ready["parentFolderId"].as_str().expect("a folder");
    assert_eq!(env.emu.folder_path(folder).as_deref(), Some("/f-2/imports"));
    assert_eq!(ready["labels"], json!(["imp"]));
    assert_eq!(env.emu.file_bytes(&id), Some(source.pic.clone()));
}

#[test]
fn import_reads_chunked_and_close_delimited_sources_and_learns_the_type() {
    let env = Emu::with(EmulatorConfig::new().processing_delay(Duration::ZERO));
    let source = Source::start();
    let chunked = env.rest("import", &json!({"url": source.url("/chunked.txt")}));
    assert_eq!(chunked.json()["file"]["displayName"], "chunked.txt");
    let id = file_id(&chunked);
    let file = env.settled(&id);
    assert_eq!(file["operationStatus"], "READY", "{file}");
    assert_eq!(file["mediaType"], "DOCUMENT");
    assert_eq!(env.emu.file_bytes(&id), Some(b"hello world".to_vec()));

    let untyped = env.rest(
        "import",
        &json!({"url": source.url("/untyped"), "mediaType": "DOCUMENT"}),
    );
    let id = file_id(&untyped);
    assert_eq!(env.settled(&id)["operationStatus"], "READY");
    assert_eq!(env.emu.file_bytes(&id), Some(b"some bytes".to_vec()));

    // No hint at all: the source's Content-Type decides.
    let by_type = env.rest("import", &json!({"url": source.url("/noext")}));
    assert_eq!(by_type.json()["file"]["mediaType"], "UNKNOWN");
    let file = env.settled(&file_id(&by_type));
    assert_eq!(file["operationStatus"], "READY", "{file}");
    assert_eq!(file["mediaType"], "IMAGE");
}

#[test]
fn imports_from_elsewhere_unreachable_or_failing_sources_fail() {
    let env = Emu::with(EmulatorConfig::new().processing_delay(Duration::ZERO));
    let source = Source::start();
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    for url in [
        "http://example.com/a.png".to_string(),
        "https://127.0.0.1/a.png".to_string(),
        format!("http://127.0.0.1:{closed}/a.png"),
        source.url("/missing.png"),
        // A type Wix doesn't take.
        source.url("/chunked"),
    ] {
        let r = env.rest("import", &json!({"url": url}));
        assert_eq!(r.status, 200, "{}", r.body);
        let file = env.settled(&file_id(&r));
        assert_eq!(file["operationStatus"], "FAILED", "{url}: {file}");
        assert!(file.get("media").is_none());
    }
}

#[test]
fn import_validates_its_body() {
    let env = Emu::start();
    let r = env.rest("import", &json!({"displayName": "a.png"}));
    assert_eq!(r.status, 400);
    assert_eq!(r.rule_names(), vec!["REQUIRED_FIELD".to_string()]);
    // Not an http(s) URL: refused at once (one that can't be fetched fails later).
    for url in [
        "ftp://localhost/a.png",
        "not-a-url",
        "http://",
        "http:///a.png",
    ] {
        let r = env.rest("import", &json!({ "url": url }));
        assert_eq!(r.status, 400, "{url}: {}", r.body);
        assert_eq!(r.rule_names(), vec!["FORMAT".to_string()], "{url}");
    }
    let r = env.rest(
        "import",
        &json!({"url": "http://127.0.0.1/a", "mediaType": "HOLOGRAM"}),
    );
    assert_eq!(r.status, 400);
    let r = env.rest(
        "import",
        &json!({"url": "http://127.0.0.1/a", "mimeType": "application/x-msdownload"}),
    );
    assert_eq!(r.rule_names(), vec!["UNSUPPORTED_FILE_FORMAT".to_string()]);
    assert!(env.emu.files().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Authentication, site id, rate limit, route counts
// ---------------------------------------------------------------------------------------------

#[test]
fn rest_routes_need_authorization_and_a_site_id() {
    let env = Emu::start();
    for route in [
        "generate-upload-url",
        "import",
        "get-files",
        "generate-resumable-upload-url",
    ] {
        let r = env.rest_as(route, &[("wix-site-id", "s")], &json!({}));
        assert_eq!(r.status, 401, "{route}");
        assert_eq!(r.code().as_deref(), Some("UNAUTHENTICATED"));
        let r = env.rest_as(
            route,
            &[("Authorization", "k"), ("wix-account-id", "a")],
            &json!({}),
        );
        assert_eq!(r.status, 403, "{route}");
        let both = [
            ("Authorization", "k"),
            ("wix-site-id", "s"),
            ("wix-account-id", "a"),
        ];
        assert_eq!(env.rest_as(route, &both, &json!({})).status, 400, "{route}");
    }
    assert_eq!(env.get_file_as("x", &[("wix-site-id", "s")]).status, 401);
    // Unset, any site id is accepted.
    let r = env.rest_as(
        "generate-upload-url",
        &[("Authorization", "k"), ("wix-site-id", "any-site")],
        &json!({"mimeType": "image/png"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn another_site_id_gets_403_with_an_html_body() {
    let env = Emu::with(EmulatorConfig::new().site_id("site-1"));
    let wrong = [("Authorization", "k"), ("wix-site-id", "site-2")];
    for route in [
        "generate-upload-url",
        "generate-resumable-upload-url",
        "import",
        "get-files",
    ] {
        let r = env.rest_as(route, &wrong, &json!({"mimeType": "image/png"}));
        assert_eq!(r.status, 403, "{route}");
        assert!(
            r.header("Content-Type")
                .is_some_and(|t| t.starts_with("text/html")),
            "{:?}",
            r.headers
        );
        assert!(r.body.contains("<html"), "{}", r.body);
    }
    assert_eq!(env.get_file_as("x", &wrong).status, 403);
    let r = env.rest("generate-upload-url", &json!({"mimeType": "image/png"}));
    assert_eq!(r.status, 200, "the configured site passes: {}", r.body);
}

#[test]
fn rest_calls_past_the_rate_limit_get_429_upload_traffic_is_not_counted() {
    let env = Emu::with(EmulatorConfig::new().rate_limit(3, Duration::from_secs(3600)));
    let url = env.upload_url(&json!({"mimeType": "text/plain", "fileName": "a.txt"}));
    let token = env.token_for(&json!({"mimeType": "text/plain"}));
    // The third call counts although it is refused for its missing Authorization.
    assert_eq!(env.rest_as("get-files", &[], &json!({})).status, 401);
    let limited = env.rest("generate-upload-url", &json!({"mimeType": "text/plain"}));
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert_eq!(limited.code().as_deref(), Some("RESOURCE_EXHAUSTED"));
    assert_eq!(limited.header("Retry-After"), None, "Wix documents none");
    assert_eq!(env.get_file("x").status, 429);
    // Upload traffic goes on.
    for _ in 0..5 {
        assert_eq!(
            send(&env.agent, "OPTIONS", &env.tus_url(), &[], b"").status,
            204
        );
    }
    let created = env.create(&token, 1);
    assert_eq!(created.status, 201);
    assert_eq!(env.put(&url, "text/plain", b"x").status, 200);
}

#[test]
fn rate_limit_can_send_retry_after_and_frees_up_after_the_window() {
    let env = Emu::with(
        EmulatorConfig::new()
            .rate_limit(1, Duration::from_secs(3600))
            .rate_limit_retry_after(true),
    );
    assert_eq!(
        env.rest("get-files", &json!({"fileIds": ["x"]})).status,
        404
    );
    let r = env.rest("get-files", &json!({"fileIds": ["x"]}));
    assert_eq!(r.status, 429);
    let secs: u64 = r
        .header("Retry-After")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=3600).contains(&secs), "{secs}");

    let env = Emu::with(EmulatorConfig::new().rate_limit(1, Duration::from_millis(300)));
    assert_eq!(env.get_file("x").status, 404);
    eventually("the window passes", || {
        (env.get_file("x").status == 404).then_some(())
    });
}

#[test]
fn route_counts_tell_requests_per_route() {
    let env = Emu::with(EmulatorConfig::new().processing_delay(Duration::ZERO));
    let r = env.resumable(&json!({"mimeType": "text/plain"}), b"abc", Some("a.txt"));
    let url = env.upload_url(&json!({"mimeType": "text/plain", "fileName": "s.txt"}));
    let simple = env.put(&url, "text/plain", b"x");
    env.get_file(&file_id(&r));
    env.rest("get-files", &json!({"fileIds": [file_id(&simple)]}));
    let counts = env.emu.route_counts();
    let expected: Vec<(&str, u64)> = vec![
        ("GET get-file-by-id", 1),
        ("PATCH tus", 1),
        ("POST generate-resumable-upload-url", 1),
        ("POST generate-upload-url", 1),
        ("POST get-files", 1),
        ("POST tus-create", 1),
        ("PUT finalize", 1),
        ("PUT simple-upload", 1),
    ];
    let got: Vec<(&str, u64)> = counts.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(got, expected);
    env.emu.reset_request_counts();
    assert!(env.emu.route_counts().is_empty());
}
