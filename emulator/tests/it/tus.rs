//! The emulator's tus server and its resumable-upload routes (generate, create, PATCH, HEAD,
//! the extensions, finalize), driven with plain `ureq` and raw TCP.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use md5::Digest as _;
use serde_json::json;
use wix_media_emulator::{Emulator, EmulatorConfig, TusExtension};

use wix_media_testkit::TempDir;
use wix_media_testkit::emulator::{Api, Emu, answered_file, data, generate_rule_cases, md5_hex};
use wix_media_testkit::http::{
    Resp, connect, get, patch_head, raw_exchange, read_continue, send, try_send,
};

use crate::support::ReadSide;

const OCTET: (&str, &str) = ("Content-Type", "application/offset+octet-stream");

/// The metadata of these tests' uploads: a name, a type and the token.
fn metadata(token: &str) -> String {
    format!(
        "filename {},contentType {},token {}",
        B64.encode("a.png"),
        B64.encode("image/png"),
        B64.encode(token)
    )
}

/// A creation of a `length`-byte upload with [`metadata`].
fn create(env: &Api, token: &str, length: usize) -> Resp {
    env.create_with(length, &metadata(token))
}

/// A creation-with-upload of `body` (of a `length`-byte upload with [`metadata`]).
fn create_upload_with(env: &Api, token: &str, length: usize, body: &[u8]) -> Resp {
    let (length, meta) = (length.to_string(), metadata(token));
    let headers = [
        ("Upload-Length", length.as_str()),
        ("Upload-Metadata", &meta),
        OCTET,
    ];
    env.tus("POST", &env.tus_url(), &headers, body)
}

/// Creates an upload; its URL.
fn new_upload(env: &Api, token: &str, length: usize) -> String {
    let r = create(env, token, length);
    assert_eq!(r.status, 201, "{}", r.body);
    r.location()
}

/// A creation of a `length`-byte upload with [`metadata`] and `headers`.
fn create_upload(env: &Api, token: &str, length: usize, headers: &[(&str, &str)]) -> Resp {
    let (length, meta) = (length.to_string(), metadata(token));
    let mut all = vec![
        ("Upload-Length", length.as_str()),
        ("Upload-Metadata", &meta),
    ];
    all.extend_from_slice(headers);
    env.tus("POST", &env.tus_url(), &all, b"")
}

#[test]
fn generate_answers_distinct_tokens_and_the_tus_url() {
    let env = Emu::start();
    let a = env.generate(&json!({"mimeType": "image/png", "sizeInBytes": "10"}));
    let b = env.generate(&json!({"mimeType": "image/png"}));
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["uploadProtocol"], "TUS");
    assert_eq!(a.json()["uploadUrl"], env.emu.tus_endpoint());
    let (ta, tb) = (
        a.json()["uploadToken"].clone(),
        b.json()["uploadToken"].clone(),
    );
    assert_ne!(ta, tb);
    assert_eq!(
        ta.as_str().map(|t| t.split('.').count()),
        Some(3),
        "JWT-shaped"
    );
    assert_eq!(env.emu.issued_tokens().len(), 2);
}

#[test]
fn generate_checks_auth_and_site_headers() {
    let env = Emu::start();
    let body = json!({"mimeType": "image/png"});
    let r = env.generate_as(&[("wix-site-id", "s")], &body);
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json()["details"]["applicationError"]["code"],
        "UNAUTHENTICATED"
    );
    let r = env.generate_as(&[("Authorization", "k")], &body);
    assert_eq!(r.status, 403);
    let r = env.generate_as(
        &[
            ("Authorization", "k"),
            ("wix-site-id", "s"),
            ("wix-account-id", "a"),
        ],
        &body,
    );
    assert_eq!(r.status, 400);
    assert!(env.emu.issued_tokens().is_empty());
}

#[test]
fn generate_validates_like_wix() {
    let env = Emu::with(EmulatorConfig::new().max_file_size(1000));
    for (body, rule) in generate_rule_cases() {
        let r = env.generate(&body);
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.rule_names(), vec![rule.to_string()], "{}", r.body);
        let v = &r.json()["details"]["validationError"]["fieldViolations"][0];
        for key in ["field", "description", "violatedRule", "ruleName", "data"] {
            assert!(v.get(key).is_some(), "{key} missing in {v}");
        }
        assert!(r.json()["message"].is_string());
    }
    let r = env.generate(&json!({"fileName": "a.png"}));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["details"]["validationError"]["fieldViolations"][0]["field"],
        "mimeType"
    );
    // Same family with another subtype is fine; so is an unknown extension.
    assert_eq!(
        env.generate(&json!({"mimeType": "image/jpeg", "fileName": "a.png"}))
            .status,
        200
    );
    assert_eq!(
        env.generate(&json!({"mimeType": "image/png", "fileName": "a.zzz"}))
            .status,
        200
    );
    assert_eq!(env.emu.issued_tokens().len(), 2);
}

#[test]
fn creation_requires_an_issued_token() {
    let env = Emu::start();
    let no_token = env.create_with(5, &format!("filename {}", B64.encode("a")));
    assert_eq!(no_token.status, 401);
    assert!(no_token.json()["details"]["applicationError"].is_object());
    let bogus = create(&env, "not-a-token", 5);
    assert_eq!(bogus.status, 403);
    assert!(bogus.json()["message"].is_string());
    assert!(env.emu.uploads().is_empty());
}

#[test]
fn core_protocol_create_patch_head() {
    let env = Emu::start();
    let token = env.token(10);
    let created = create(&env, &token, 10);
    assert_eq!(created.status, 201);
    let url = created.header("Location").expect("Location").to_string();
    assert!(url.starts_with(&env.emu.tus_endpoint()), "absolute: {url}");
    assert!(created.header("Upload-Expires").is_some());
    assert_eq!(created.header("Tus-Resumable"), Some("1.0.0"));

    let h = env.head(&url);
    assert_eq!(h.status, 200);
    assert_eq!(h.header("Upload-Offset"), Some("0"));
    assert_eq!(h.header("Upload-Length"), Some("10"));
    assert_eq!(h.header("Cache-Control"), Some("no-store"));
    assert_eq!(h.header("Upload-Metadata"), Some(metadata(&token).as_str()));

    let bytes = data(10);
    let p = env.patch(&url, 0, &bytes[..4], &[]);
    assert_eq!(p.status, 204);
    assert_eq!(p.header("Upload-Offset"), Some("4"));
    assert!(p.header("Upload-Expires").is_some());

    // Wrong offset, wrong content type, no Tus-Resumable: refused, nothing changes.
    assert_eq!(env.patch(&url, 2, &bytes[2..], &[]).status, 409);
    let headers = [
        ("Content-Type", "application/octet-stream"),
        ("Upload-Offset", "4"),
    ];
    let wrong_type = env.tus("PATCH", &url, &headers, &bytes[4..]);
    assert_eq!(wrong_type.status, 415);
    let headers = [OCTET, ("Upload-Offset", "4")];
    let no_version = send(&env.agent, "PATCH", &url, &headers, &bytes[4..]);
    assert_eq!(no_version.status, 412);
    assert_eq!(no_version.header("Tus-Version"), Some("1.0.0"));
    assert_eq!(env.head(&url).header("Upload-Offset"), Some("4"));
    // Past the declared length.
    assert_eq!(env.patch(&url, 4, &data(7), &[]).status, 413);

    assert_eq!(env.patch(&url, 4, &bytes[4..], &[]).status, 204);
    assert_eq!(env.head(&url).header("Upload-Offset"), Some("10"));
    assert_eq!(env.emu.stored_bytes(&url), Some(bytes.clone()));
    assert_eq!(env.emu.stored_bytes(&token), Some(bytes));
    let uploads = env.emu.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].url, url);
    assert!(uploads[0].is_complete());
    assert_eq!(
        uploads[0].metadata.get("token").map(String::as_str),
        Some(token.as_str())
    );
    assert_eq!(
        env.head(&format!("{}/nope", env.emu.tus_endpoint())).status,
        404
    );
}

#[test]
fn options_advertise_exactly_the_enabled_extensions() {
    let env = Emu::start();
    let r = send(&env.agent, "OPTIONS", &env.tus_url(), &[], b"");
    assert!(r.status == 204 || r.status == 200);
    assert_eq!(r.header("Tus-Version"), Some("1.0.0"));
    assert_eq!(
        r.header("Tus-Extension"),
        Some(
            "creation,creation-with-upload,creation-defer-length,termination,expiration,checksum,concatenation"
        )
    );
    assert_eq!(r.header("Tus-Checksum-Algorithm"), Some("sha1,sha256,md5"));
    assert_eq!(r.header("Tus-Max-Size"), Some("5368709120"));

    let env = Emu::with(
        EmulatorConfig::new()
            .without_extension(TusExtension::Concatenation)
            .without_extension(TusExtension::Checksum)
            .without_extension(TusExtension::CreationWithUpload),
    );
    let r = send(&env.agent, "OPTIONS", &env.tus_url(), &[], b"");
    assert_eq!(
        r.header("Tus-Extension"),
        Some("creation,creation-defer-length,termination,expiration")
    );
    assert_eq!(r.header("Tus-Checksum-Algorithm"), None);
    let token = env.token(3);
    let partial = create_upload(&env, &token, 3, &[("Upload-Concat", "partial")]);
    assert_eq!(partial.status, 501);
    // Without creation-with-upload a body on the POST is ignored.
    let r = create_upload_with(&env, &token, 3, b"abc");
    assert_eq!(r.status, 201);
    assert_eq!(r.header("Upload-Offset"), None);
    let url = r.header("Location").expect("Location");
    assert_eq!(env.head(url).header("Upload-Offset"), Some("0"));
}

#[test]
fn creation_with_upload_keeps_the_first_bytes() {
    let env = Emu::start();
    let token = env.token(8);
    let r = create_upload_with(&env, &token, 8, b"abcde");
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("Upload-Offset"), Some("5"));
    let url = r.header("Location").expect("Location").to_string();
    assert_eq!(env.patch(&url, 5, b"fgh", &[]).status, 204);
    assert_eq!(env.emu.stored_bytes(&url), Some(b"abcdefgh".to_vec()));
}

#[test]
fn deferred_length_is_set_by_a_later_patch() {
    let env = Emu::start();
    let token = env.token(6);
    let headers = [
        ("Upload-Defer-Length", "1"),
        ("Upload-Metadata", &metadata(&token)),
    ];
    let r = env.tus("POST", &env.tus_url(), &headers, b"");
    assert_eq!(r.status, 201);
    let url = r.header("Location").expect("Location").to_string();
    let h = env.head(&url);
    assert_eq!(h.header("Upload-Defer-Length"), Some("1"));
    assert_eq!(h.header("Upload-Length"), None);
    assert_eq!(env.patch(&url, 0, b"abc", &[]).status, 204);
    assert_eq!(
        env.patch(&url, 3, b"def", &[("Upload-Length", "6")]).status,
        204
    );
    let h = env.head(&url);
    assert_eq!(h.header("Upload-Length"), Some("6"));
    assert_eq!(h.header("Upload-Offset"), Some("6"));
    assert_eq!(env.finalize(&token, Some("a.png")).status, 200);
}

#[test]
fn termination_deletes_the_upload() {
    let env = Emu::start();
    let url = new_upload(&env, &env.token(4), 4);
    let del = || env.tus("DELETE", &url, &[], b"");
    assert_eq!(del().status, 204);
    assert_eq!(env.head(&url).status, 404);
    assert_eq!(del().status, 404);
    assert!(env.emu.uploads().is_empty());
}

#[test]
fn expired_uploads_answer_410() {
    let env = Emu::with(EmulatorConfig::new().expiration(Duration::from_millis(100)));
    let created = create(&env, &env.token(4), 4);
    let expires = created.header("Upload-Expires").expect("Upload-Expires");
    assert!(httpdate::parse_http_date(expires).is_ok(), "{expires}");
    let url = created.header("Location").expect("Location").to_string();
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(env.head(&url).status, 410);
    assert_eq!(env.patch(&url, 0, b"abcd", &[]).status, 410);
}

#[test]
fn checksums_are_verified_and_bad_bytes_dropped() {
    let env = Emu::start();
    let url = new_upload(&env, &env.token(6), 6);
    let sha1 = |b: &[u8]| format!("sha1 {}", B64.encode(sha1::Sha1::digest(b)));
    let bad = env.patch(&url, 0, b"abc", &[("Upload-Checksum", &sha1(b"xyz"))]);
    assert_eq!(bad.status, 460);
    assert_eq!(env.head(&url).header("Upload-Offset"), Some("0"));
    let unknown = env.patch(&url, 0, b"abc", &[("Upload-Checksum", "crc32 AAAA")]);
    assert_eq!(unknown.status, 400);
    let ok = env.patch(&url, 0, b"abc", &[("Upload-Checksum", &sha1(b"abc"))]);
    assert_eq!(ok.status, 204);
    let sha256 = format!("sha256 {}", B64.encode(sha2::Sha256::digest(b"def")));
    assert_eq!(
        env.patch(&url, 3, b"def", &[("Upload-Checksum", &sha256)])
            .status,
        204
    );
    assert_eq!(env.emu.stored_bytes(&url), Some(b"abcdef".to_vec()));
}

#[test]
fn concatenation_joins_partials_into_a_final_upload() {
    let env = Emu::start();
    let token = env.token(10);
    let mut urls = Vec::new();
    for part in [&b"hello"[..], &b"world"[..]] {
        let r = create_upload(&env, &token, part.len(), &[("Upload-Concat", "partial")]);
        assert_eq!(r.status, 201);
        let url = r.header("Location").expect("Location").to_string();
        assert_eq!(env.head(&url).header("Upload-Concat"), Some("partial"));
        urls.push(url);
    }
    assert_eq!(env.patch(&urls[1], 0, b"world", &[]).status, 204);
    // A partial that isn't complete can't be concatenated.
    let final_req = || {
        let concat = format!("final;{} {}", urls[0], urls[1]);
        env.tus("POST", &env.tus_url(), &[("Upload-Concat", &concat)], b"")
    };
    assert_eq!(final_req().status, 400);
    assert_eq!(env.patch(&urls[0], 0, b"hello", &[]).status, 204);
    let r = final_req();
    assert_eq!(r.status, 201, "{}", r.body);
    let final_url = r.header("Location").expect("Location").to_string();
    let h = env.head(&final_url);
    assert_eq!(h.header("Upload-Offset"), Some("10"));
    assert_eq!(
        h.header("Upload-Concat"),
        Some(format!("final;{} {}", urls[0], urls[1]).as_str())
    );
    assert_eq!(env.patch(&final_url, 10, b"x", &[]).status, 403);
    let f = env.finalize(&token, Some("a.png"));
    assert_eq!(f.status, 200, "{}", f.body);
    assert_eq!(f.json()["file"]["hash"], md5_hex(b"helloworld"));
    assert_eq!(f.json()["file"]["sizeInBytes"], "10");
}

#[test]
fn bodies_over_the_max_body_size_get_413() {
    let env = Emu::with(EmulatorConfig::new().max_body_size(4));
    let url = new_upload(&env, &env.token(8), 8);
    assert_eq!(env.patch(&url, 0, b"abcdef", &[]).status, 413);
    assert_eq!(env.head(&url).header("Upload-Offset"), Some("0"));
    assert_eq!(env.patch(&url, 0, b"abcd", &[]).status, 204);
    assert_eq!(env.patch(&url, 4, b"efgh", &[]).status, 204);
    // Uploads over Tus-Max-Size are refused at creation.
    let env = Emu::with(EmulatorConfig::new().max_file_size(10));
    assert_eq!(create(&env, &env.token(5), 11).status, 413);
}

#[test]
fn finalize_returns_a_wix_file_descriptor() {
    let env = Emu::start();
    let bytes = data(1234);
    let folder = env.folder("folder-7", "media-root");
    let r = env.generate(&json!({
        "mimeType": "image/png", "fileName": "a.png", "sizeInBytes": "1234",
        "parentFolderId": folder, "private": true, "labels": ["x", "y"]
    }));
    let token = r.json()["uploadToken"].as_str().expect("token").to_string();
    let url = new_upload(&env, &token, bytes.len());
    assert_eq!(env.patch(&url, 0, &bytes, &[]).status, 204);
    let f = env.finalize(&token, Some("my photo+1.png"));
    let file = &answered_file(
        &f,
        &json!({
            "displayName": "my photo+1.png", "hash": md5_hex(&bytes), "sizeInBytes": "1234",
            "mediaType": "IMAGE", "parentFolderId": folder, "private": true,
            "labels": ["x", "y"], "operationStatus": "READY", "state": "OK"
        }),
    );
    let id = file["id"].as_str().expect("id");
    assert!(id.contains("~mv2."), "{id}");
    assert_eq!(
        file["url"],
        format!("https://static.wixstatic.com/media/{id}")
    );
    assert!(file["media"]["image"]["image"].is_object());
    assert!(
        file["createdDate"]
            .as_str()
            .is_some_and(|d| d.ends_with('Z'))
    );
    assert_eq!(env.emu.finalized_files(), vec![file.clone()]);
}

#[test]
fn finalize_maps_mime_types_to_media_types() {
    let env = Emu::start();
    for (mime, name, kind, key) in [
        ("video/mp4", "v.mp4", "VIDEO", "video"),
        ("audio/mpeg", "s.mp3", "AUDIO", "audio"),
        ("application/pdf", "d.pdf", "DOCUMENT", "document"),
        ("text/plain", "t.txt", "DOCUMENT", "document"),
        ("image/svg+xml", "v.svg", "VECTOR", "vector"),
        ("application/zip", "z.zip", "ARCHIVE", "archive"),
        ("model/gltf-binary", "m.glb", "MODEL3D", "model3d"),
    ] {
        let r = env.generate(&json!({"mimeType": mime, "fileName": name}));
        let token = r.json()["uploadToken"].as_str().expect("token").to_string();
        let url = new_upload(&env, &token, 3);
        assert_eq!(env.patch(&url, 0, b"abc", &[]).status, 204);
        let f = env.finalize(&token, Some(name));
        assert_eq!(f.json()["file"]["mediaType"], kind, "{mime}");
        assert!(f.json()["file"]["media"][key].is_object(), "{}", f.body);
    }
}

#[test]
fn finalize_errors() {
    let env = Emu::start();
    assert_eq!(env.finalize("unknown-token", Some("a.png")).status, 404);
    let token = env.token(4);
    let none = env.finalize(&token, Some("a.png"));
    assert_eq!(none.status, 428);
    assert_eq!(
        none.json()["details"]["applicationError"]["code"],
        "FAILED_PRECONDITION"
    );
    let url = new_upload(&env, &token, 4);
    assert_eq!(env.patch(&url, 0, b"ab", &[]).status, 204);
    assert_eq!(env.finalize(&token, Some("a.png")).status, 428);
    assert_eq!(env.patch(&url, 2, b"cd", &[]).status, 204);
    assert_eq!(env.finalize(&token, Some("a.png")).status, 200);
    let again = env.finalize(&token, Some("a.png"));
    assert_eq!(again.status, 409);
    assert_eq!(
        again.json()["details"]["applicationError"]["code"],
        "ALREADY_EXISTS"
    );
    // A used token can't start a new upload.
    assert_eq!(create(&env, &token, 4).status, 403);
}

#[test]
fn fault_switch_fails_requests_without_touching_state() {
    let env = Emu::start();
    let token = env.token(3);
    env.emu.reset_request_counts();
    env.emu.fail_next(2, 503);
    assert_eq!(create(&env, &token, 3).status, 503);
    assert_eq!(create(&env, &token, 3).status, 503);
    assert!(env.emu.uploads().is_empty());
    let url = new_upload(&env, &token, 3);
    env.emu.fail_next(1, 500);
    assert_eq!(env.patch(&url, 0, b"abc", &[]).status, 500);
    assert_eq!(env.head(&url).header("Upload-Offset"), Some("0"));
    env.emu.drop_next(1);
    assert!(
        env.agent
            .head(&url)
            .header("Tus-Resumable", "1.0.0")
            .call()
            .is_err()
    );
    assert_eq!(env.patch(&url, 0, b"abc", &[]).status, 204);
    let counts = env.emu.request_counts();
    assert_eq!(counts.get("POST"), Some(&3));
    assert_eq!(counts.get("PATCH"), Some(&2));
    assert_eq!(counts.get("HEAD"), Some(&2));
}

#[test]
fn a_cut_body_keeps_the_bytes_that_arrived() {
    let env = Emu::start();
    let bytes = data(100_000);
    let url = new_upload(&env, &env.token(bytes.len()), bytes.len());
    env.emu.cut_next_body_after(40_000);
    let headers = [("Tus-Resumable", "1.0.0"), OCTET, ("Upload-Offset", "0")];
    let r = try_send(&env.agent, "PATCH", &url, &headers, &bytes);
    assert!(r.is_err(), "the connection is cut");
    assert_eq!(env.head(&url).header("Upload-Offset"), Some("40000"));
    assert_eq!(env.patch(&url, 40_000, &bytes[40_000..], &[]).status, 204);
    assert_eq!(env.emu.stored_bytes(&url), Some(bytes));
}

#[test]
fn an_interrupted_raw_patch_keeps_what_arrived() {
    let env = Emu::start();
    let url = new_upload(&env, &env.token(1000), 1000);
    let path = url.trim_start_matches(env.emu.base_url());
    let mut s = connect(env.emu.addr());
    s.write_all(patch_head(path, 0, "Content-Length: 1000\r\n").as_bytes())
        .expect("write");
    s.write_all(&[7u8; 300]).expect("write");
    drop(s);
    let deadline = Instant::now() + Duration::from_secs(5);
    while env.head(&url).header("Upload-Offset") != Some("300") {
        assert!(Instant::now() < deadline, "offset never reached 300");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn chunked_and_expect_continue_bodies_are_streamed() {
    let env = Emu::start();
    let url = new_upload(&env, &env.token(11), 11);
    let path = url.trim_start_matches(env.emu.base_url()).to_string();
    let mut s = connect(env.emu.addr());
    let head = patch_head(
        &path,
        0,
        "Transfer-Encoding: chunked\r\nConnection: close\r\n",
    );
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(b"5\r\nhello\r\n1;ext=1\r\n \r\n0\r\n\r\n")
        .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    assert!(out.starts_with("HTTP/1.1 204"), "{out}");
    assert!(out.contains("Upload-Offset: 6"), "{out}");

    let mut s = connect(env.emu.addr());
    let extra = "Content-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n";
    s.write_all(patch_head(&path, 6, extra).as_bytes())
        .expect("write");
    read_continue(&mut s);
    s.write_all(b"world").expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    assert!(out.contains("Upload-Offset: 11"), "{out}");
    assert_eq!(env.emu.stored_bytes(&url), Some(b"hello world".to_vec()));
}

#[test]
fn parallel_uploads_on_several_connections() {
    let env = Emu::start();
    let token = env.token(4 * 200_000);
    let parts: Vec<Vec<u8>> = (0..4).map(|i| vec![i as u8; 200_000]).collect();
    let urls: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .iter()
            .map(|part| {
                let env = &env;
                let token = &token;
                s.spawn(move || {
                    // Each on a connection of its own.
                    let api = Api::new(env.emu.base_url());
                    let r = create_upload(&api, token, part.len(), &[("Upload-Concat", "partial")]);
                    let url = r.location();
                    for (i, chunk) in part.chunks(50_000).enumerate() {
                        assert_eq!(api.patch(&url, i * 50_000, chunk, &[]).status, 204);
                    }
                    url
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let concat = format!("final;{}", urls.join(" "));
    let r = env.tus("POST", &env.tus_url(), &[("Upload-Concat", &concat)], b"");
    assert_eq!(r.status, 201, "{}", r.body);
    let f = env.finalize(&token, Some("a.png"));
    assert_eq!(f.json()["file"]["hash"], md5_hex(&parts.concat()));
    assert_eq!(env.emu.uploads().iter().filter(|u| u.is_final).count(), 1);
}

#[test]
fn stop_frees_the_port_and_restart_resumes() {
    let dir = TempDir::new("wmu-emu-restart");
    let emu = Emulator::start(dir.path()).expect("start");
    let addr = emu.addr();
    let api = Api::new(emu.base_url());
    let token = api.token_for(&json!({"mimeType": "image/png"}));
    let url = new_upload(&api, &token, 4);
    assert_eq!(api.patch(&url, 0, b"ab", &[]).status, 204);
    emu.stop();
    // The port is free again and nothing answers on it.
    drop(TcpListener::bind(addr).expect("port is free after stop"));

    let emu = EmulatorConfig::new()
        .port(addr.port())
        .start(dir.path())
        .expect("restart on the same port");
    // A new agent: the old one's pooled connection died with the first server.
    let h = Api::new(emu.base_url()).head(&url);
    assert_eq!(h.header("Upload-Offset"), Some("2"));
    assert_eq!(emu.issued_tokens(), vec![token]);
    drop(emu);
    drop(TcpListener::bind(addr).expect("port is free after drop"));
}

#[test]
fn malformed_requests_get_errors_not_panics() {
    let env = Emu::start();
    assert!(raw_exchange(env.emu.addr(), b"GARBAGE\r\n\r\n").starts_with("HTTP/1.1 400"));
    let mut huge = b"GET / HTTP/1.1\r\nX: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 200_000));
    huge.extend_from_slice(b"\r\n\r\n");
    assert!(raw_exchange(env.emu.addr(), &huge).starts_with("HTTP/1.1 431"));
    let bad_len = b"PATCH /upload/tus/x HTTP/1.1\r\nContent-Length: nope\r\n\r\n";
    assert!(raw_exchange(env.emu.addr(), bad_len).starts_with("HTTP/1.1 400"));
    let bad_chunk = b"PATCH /upload/tus/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    assert!(!raw_exchange(env.emu.addr(), bad_chunk).is_empty());
    // Unknown routes and methods answer Wix-shaped errors; the server is still fine.
    let r = get(&env.agent, &format!("{}/nowhere", env.emu.base_url()), &[]);
    assert_eq!(r.status, 404);
    assert!(r.json()["details"]["applicationError"].is_object());
    let r = get(&env.agent, &env.emu.generate_url(), &[]);
    assert_eq!(r.status, 405);
    let token = env.token(3);
    let url = new_upload(&env, &token, 3);
    let bad_meta = env.create_with(3, "token %%%");
    assert_eq!(bad_meta.status, 400);
    let no_offset = env.tus("PATCH", &url, &[OCTET], b"abc");
    assert_eq!(no_offset.status, 400);
}

#[test]
fn method_override_turns_a_post_into_a_patch() {
    let env = Emu::start();
    let url = new_upload(&env, &env.token(3), 3);
    let headers = [
        ("X-HTTP-Method-Override", "PATCH"),
        OCTET,
        ("Upload-Offset", "0"),
    ];
    let r = env.tus("POST", &url, &headers, b"abc");
    assert_eq!(r.status, 204);
    assert_eq!(r.header("Upload-Offset"), Some("3"));
}
