//! Tests of the local Wix stand-in, driven with plain `ureq` and raw TCP.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use md5::Digest as _;
use serde_json::{Value, json};
use ureq::Agent;
use wix_media_upload::emulator::{Emulator, EmulatorConfig, TusExtension};

/// A fresh directory under Cargo's per-target temp dir.
fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "emulator-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

fn into_resp(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Resp {
    let mut r = r.expect("transport error");
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = r.body_mut().read_to_string().unwrap_or_default();
    Resp {
        status,
        headers,
        body,
    }
}

/// An emulator plus an agent that returns 4xx/5xx as responses.
struct Env {
    emu: Emulator,
    agent: Agent,
}

impl Env {
    fn new(name: &str) -> Env {
        Env::with(name, EmulatorConfig::new())
    }

    fn with(name: &str, config: EmulatorConfig) -> Env {
        let emu = config.start(temp_dir(name)).expect("start emulator");
        let agent: Agent = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Env { emu, agent }
    }

    fn generate_raw(&self, headers: &[(&str, &str)], body: &Value) -> Resp {
        let mut req = self.agent.post(self.emu.generate_url());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        into_resp(
            req.header("Content-Type", "application/json")
                .send(body.to_string().as_bytes()),
        )
    }

    fn generate_with(&self, body: &Value) -> Resp {
        self.generate_raw(
            &[("Authorization", "IST.key"), ("wix-site-id", "site-1")],
            body,
        )
    }

    /// A fresh upload token for an image of `size` bytes.
    fn token(&self, size: usize) -> String {
        let r = self.generate_with(
            &json!({"mimeType": "image/png", "fileName": "a.png", "sizeInBytes": size.to_string()}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["uploadToken"].as_str().expect("token").to_string()
    }

    fn create(&self, token: &str, length: usize) -> Resp {
        into_resp(
            self.agent
                .post(self.emu.tus_endpoint())
                .header("Tus-Resumable", "1.0.0")
                .header("Upload-Length", length.to_string())
                .header("Upload-Metadata", metadata(token))
                .send_empty(),
        )
    }

    /// Creates an upload and returns its URL.
    fn new_upload(&self, token: &str, length: usize) -> String {
        let r = self.create(token, length);
        assert_eq!(r.status, 201, "{}", r.body);
        r.header("Location").expect("Location").to_string()
    }

    fn patch(&self, url: &str, offset: usize, body: &[u8], extra: &[(&str, &str)]) -> Resp {
        let mut req = self
            .agent
            .patch(url)
            .header("Tus-Resumable", "1.0.0")
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", offset.to_string());
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        into_resp(req.send(body))
    }

    fn head(&self, url: &str) -> Resp {
        into_resp(self.agent.head(url).header("Tus-Resumable", "1.0.0").call())
    }

    fn finalize(&self, token: &str, filename: &str) -> Resp {
        let name: String = filename
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_' {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        into_resp(
            self.agent
                .put(format!(
                    "{}/{token}?filename={name}",
                    self.emu.tus_endpoint()
                ))
                .header("Content-Type", "application/json")
                .send(b"{}".as_slice()),
        )
    }
}

fn metadata(token: &str) -> String {
    format!(
        "filename {},contentType {},token {}",
        B64.encode("a.png"),
        B64.encode("image/png"),
        B64.encode(token)
    )
}

fn md5_hex(bytes: &[u8]) -> String {
    md5::Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

fn rule_names(r: &Resp) -> Vec<String> {
    r.json()["details"]["validationError"]["fieldViolations"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|f| f["ruleName"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn generate_answers_distinct_tokens_and_the_tus_url() {
    let env = Env::new("generate");
    let a = env.generate_with(&json!({"mimeType": "image/png", "sizeInBytes": "10"}));
    let b = env.generate_with(&json!({"mimeType": "image/png"}));
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
    let env = Env::new("generate-auth");
    let body = json!({"mimeType": "image/png"});
    let r = env.generate_raw(&[("wix-site-id", "s")], &body);
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json()["details"]["applicationError"]["code"],
        "UNAUTHENTICATED"
    );
    let r = env.generate_raw(&[("Authorization", "k")], &body);
    assert_eq!(r.status, 403);
    let r = env.generate_raw(
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
    let env = Env::with("generate-rules", EmulatorConfig::new().max_file_size(1000));
    let cases = [
        (
            json!({"mimeType": "image/png", "sizeInBytes": "0"}),
            "ZERO_FILE_SIZE",
        ),
        (
            json!({"mimeType": "application/x-msdownload", "fileName": "a.exe"}),
            "UNSUPPORTED_FILE_FORMAT",
        ),
        (
            json!({"mimeType": "video/mp4", "fileName": "a.png"}),
            "MISMATCH_MIME_TYPE",
        ),
        (
            json!({"mimeType": "image/png", "sizeInBytes": "1001"}),
            "FILE_SIZE_OVER_LIMIT",
        ),
    ];
    for (body, rule) in cases {
        let r = env.generate_with(&body);
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(rule_names(&r), vec![rule.to_string()], "{}", r.body);
        let v = &r.json()["details"]["validationError"]["fieldViolations"][0];
        for key in ["field", "description", "violatedRule", "ruleName", "data"] {
            assert!(v.get(key).is_some(), "{key} missing in {v}");
        }
        assert!(r.json()["message"].is_string());
    }
    let r = env.generate_with(&json!({"fileName": "a.png"}));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["details"]["validationError"]["fieldViolations"][0]["field"],
        "mimeType"
    );
    // Same family with another subtype is fine; so is an unknown extension.
    assert_eq!(
        env.generate_with(&json!({"mimeType": "image/jpeg", "fileName": "a.png"}))
            .status,
        200
    );
    assert_eq!(
        env.generate_with(&json!({"mimeType": "image/png", "fileName": "a.zzz"}))
            .status,
        200
    );
    assert_eq!(env.emu.issued_tokens().len(), 2);
}

#[test]
fn creation_requires_an_issued_token() {
    let env = Env::new("token-required");
    let no_token = into_resp(
        env.agent
            .post(env.emu.tus_endpoint())
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", "5")
            .header("Upload-Metadata", format!("filename {}", B64.encode("a")))
            .send_empty(),
    );
    assert_eq!(no_token.status, 401);
    assert!(no_token.json()["details"]["applicationError"].is_object());
    let bogus = env.create("not-a-token", 5);
    assert_eq!(bogus.status, 403);
    assert!(bogus.json()["message"].is_string());
    assert!(env.emu.uploads().is_empty());
}

#[test]
fn core_protocol_create_patch_head() {
    let env = Env::new("core");
    let token = env.token(10);
    let created = env.create(&token, 10);
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
    let wrong_type = into_resp(
        env.agent
            .patch(&url)
            .header("Tus-Resumable", "1.0.0")
            .header("Content-Type", "application/octet-stream")
            .header("Upload-Offset", "4")
            .send(&bytes[4..]),
    );
    assert_eq!(wrong_type.status, 415);
    let no_version = into_resp(
        env.agent
            .patch(&url)
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", "4")
            .send(&bytes[4..]),
    );
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
    let env = Env::new("options");
    let r = into_resp(env.agent.options(env.emu.tus_endpoint()).call());
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

    let env = Env::with(
        "options-off",
        EmulatorConfig::new()
            .without_extension(TusExtension::Concatenation)
            .without_extension(TusExtension::Checksum)
            .without_extension(TusExtension::CreationWithUpload),
    );
    let r = into_resp(env.agent.options(env.emu.tus_endpoint()).call());
    assert_eq!(
        r.header("Tus-Extension"),
        Some("creation,creation-defer-length,termination,expiration")
    );
    assert_eq!(r.header("Tus-Checksum-Algorithm"), None);
    let token = env.token(3);
    let partial = into_resp(
        env.agent
            .post(env.emu.tus_endpoint())
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", "3")
            .header("Upload-Concat", "partial")
            .header("Upload-Metadata", metadata(&token))
            .send_empty(),
    );
    assert_eq!(partial.status, 501);
    // Without creation-with-upload a body on the POST is ignored.
    let r = into_resp(
        env.agent
            .post(env.emu.tus_endpoint())
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", "3")
            .header("Upload-Metadata", metadata(&token))
            .header("Content-Type", "application/offset+octet-stream")
            .send(b"abc".as_slice()),
    );
    assert_eq!(r.status, 201);
    assert_eq!(r.header("Upload-Offset"), None);
    let url = r.header("Location").expect("Location");
    assert_eq!(env.head(url).header("Upload-Offset"), Some("0"));
}

#[test]
fn creation_with_upload_keeps_the_first_bytes() {
    let env = Env::new("cwu");
    let token = env.token(8);
    let r = into_resp(
        env.agent
            .post(env.emu.tus_endpoint())
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", "8")
            .header("Upload-Metadata", metadata(&token))
            .header("Content-Type", "application/offset+octet-stream")
            .send(b"abcde".as_slice()),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("Upload-Offset"), Some("5"));
    let url = r.header("Location").expect("Location").to_string();
    assert_eq!(env.patch(&url, 5, b"fgh", &[]).status, 204);
    assert_eq!(env.emu.stored_bytes(&url), Some(b"abcdefgh".to_vec()));
}

#[test]
fn deferred_length_is_set_by_a_later_patch() {
    let env = Env::new("defer");
    let token = env.token(6);
    let r = into_resp(
        env.agent
            .post(env.emu.tus_endpoint())
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Defer-Length", "1")
            .header("Upload-Metadata", metadata(&token))
            .send_empty(),
    );
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
    assert_eq!(env.finalize(&token, "a.png").status, 200);
}

#[test]
fn termination_deletes_the_upload() {
    let env = Env::new("delete");
    let url = env.new_upload(&env.token(4), 4);
    let del = || {
        into_resp(
            env.agent
                .delete(&url)
                .header("Tus-Resumable", "1.0.0")
                .call(),
        )
    };
    assert_eq!(del().status, 204);
    assert_eq!(env.head(&url).status, 404);
    assert_eq!(del().status, 404);
    assert!(env.emu.uploads().is_empty());
}

#[test]
fn expired_uploads_answer_410() {
    let env = Env::with(
        "expire",
        EmulatorConfig::new().expiration(Duration::from_millis(100)),
    );
    let created = env.create(&env.token(4), 4);
    let expires = created.header("Upload-Expires").expect("Upload-Expires");
    assert!(httpdate::parse_http_date(expires).is_ok(), "{expires}");
    let url = created.header("Location").expect("Location").to_string();
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(env.head(&url).status, 410);
    assert_eq!(env.patch(&url, 0, b"abcd", &[]).status, 410);
}

#[test]
fn checksums_are_verified_and_bad_bytes_dropped() {
    let env = Env::new("checksum");
    let url = env.new_upload(&env.token(6), 6);
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
    let env = Env::new("concat");
    let token = env.token(10);
    let mut urls = Vec::new();
    for part in [&b"hello"[..], &b"world"[..]] {
        let r = into_resp(
            env.agent
                .post(env.emu.tus_endpoint())
                .header("Tus-Resumable", "1.0.0")
                .header("Upload-Length", part.len().to_string())
                .header("Upload-Concat", "partial")
                .header("Upload-Metadata", metadata(&token))
                .send_empty(),
        );
        assert_eq!(r.status, 201);
        let url = r.header("Location").expect("Location").to_string();
        assert_eq!(env.head(&url).header("Upload-Concat"), Some("partial"));
        urls.push(url);
    }
    assert_eq!(env.patch(&urls[1], 0, b"world", &[]).status, 204);
    // A partial that isn't complete can't be concatenated.
    let final_req = || {
        into_resp(
            env.agent
                .post(env.emu.tus_endpoint())
                .header("Tus-Resumable", "1.0.0")
                .header("Upload-Concat", format!("final;{} {}", urls[0], urls[1]))
                .send_empty(),
        )
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
    let f = env.finalize(&token, "a.png");
    assert_eq!(f.status, 200, "{}", f.body);
    assert_eq!(f.json()["file"]["hash"], md5_hex(b"helloworld"));
    assert_eq!(f.json()["file"]["sizeInBytes"], "10");
}

#[test]
fn bodies_over_the_max_body_size_get_413() {
    let env = Env::with("maxbody", EmulatorConfig::new().max_body_size(4));
    let url = env.new_upload(&env.token(8), 8);
    assert_eq!(env.patch(&url, 0, b"abcdef", &[]).status, 413);
    assert_eq!(env.head(&url).header("Upload-Offset"), Some("0"));
    assert_eq!(env.patch(&url, 0, b"abcd", &[]).status, 204);
    assert_eq!(env.patch(&url, 4, b"efgh", &[]).status, 204);
    // Uploads over Tus-Max-Size are refused at creation.
    let env = Env::with("maxsize", EmulatorConfig::new().max_file_size(10));
    assert_eq!(env.create(&env.token(5), 11).status, 413);
}

#[test]
fn finalize_returns_a_wix_file_descriptor() {
    let env = Env::new("finalize");
    let bytes = data(1234);
    let r = env.generate_with(&json!({
        "mimeType": "image/png", "fileName": "a.png", "sizeInBytes": "1234",
        "parentFolderId": "folder-7", "private": true, "labels": ["x", "y"]
    }));
    let token = r.json()["uploadToken"].as_str().expect("token").to_string();
    let url = env.new_upload(&token, bytes.len());
    assert_eq!(env.patch(&url, 0, &bytes, &[]).status, 204);
    let f = env.finalize(&token, "my photo+1.png");
    assert_eq!(f.status, 200, "{}", f.body);
    let file = &f.json()["file"];
    assert_eq!(file["displayName"], "my photo+1.png");
    assert_eq!(file["hash"], md5_hex(&bytes));
    assert_eq!(file["sizeInBytes"], "1234");
    assert_eq!(file["mediaType"], "IMAGE");
    assert_eq!(file["parentFolderId"], "folder-7");
    assert_eq!(file["private"], true);
    assert_eq!(file["labels"], json!(["x", "y"]));
    assert_eq!(file["operationStatus"], "READY");
    assert_eq!(file["state"], "OK");
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
    let env = Env::new("media-types");
    for (mime, name, kind, key) in [
        ("video/mp4", "v.mp4", "VIDEO", "video"),
        ("audio/mpeg", "s.mp3", "AUDIO", "audio"),
        ("application/pdf", "d.pdf", "DOCUMENT", "document"),
        ("text/plain", "t.txt", "DOCUMENT", "document"),
        ("image/svg+xml", "v.svg", "VECTOR", "vector"),
        ("application/zip", "z.zip", "ARCHIVE", "archive"),
        ("model/gltf-binary", "m.glb", "MODEL3D", "model3d"),
    ] {
        let r = env.generate_with(&json!({"mimeType": mime, "fileName": name}));
        let token = r.json()["uploadToken"].as_str().expect("token").to_string();
        let url = env.new_upload(&token, 3);
        assert_eq!(env.patch(&url, 0, b"abc", &[]).status, 204);
        let f = env.finalize(&token, name);
        assert_eq!(f.json()["file"]["mediaType"], kind, "{mime}");
        assert!(f.json()["file"]["media"][key].is_object(), "{}", f.body);
    }
}

#[test]
fn finalize_errors() {
    let env = Env::new("finalize-errors");
    assert_eq!(env.finalize("unknown-token", "a.png").status, 404);
    let token = env.token(4);
    let none = env.finalize(&token, "a.png");
    assert_eq!(none.status, 428);
    assert_eq!(
        none.json()["details"]["applicationError"]["code"],
        "FAILED_PRECONDITION"
    );
    let url = env.new_upload(&token, 4);
    assert_eq!(env.patch(&url, 0, b"ab", &[]).status, 204);
    assert_eq!(env.finalize(&token, "a.png").status, 428);
    assert_eq!(env.patch(&url, 2, b"cd", &[]).status, 204);
    assert_eq!(env.finalize(&token, "a.png").status, 200);
    let again = env.finalize(&token, "a.png");
    assert_eq!(again.status, 409);
    assert_eq!(
        again.json()["details"]["applicationError"]["code"],
        "ALREADY_EXISTS"
    );
    // A used token can't start a new upload.
    assert_eq!(env.create(&token, 4).status, 403);
}

#[test]
fn fault_switch_fails_requests_without_touching_state() {
    let env = Env::new("faults");
    let token = env.token(3);
    env.emu.reset_request_counts();
    env.emu.fail_next(2, 503);
    assert_eq!(env.create(&token, 3).status, 503);
    assert_eq!(env.create(&token, 3).status, 503);
    assert!(env.emu.uploads().is_empty());
    let url = env.new_upload(&token, 3);
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
    let env = Env::new("cut");
    let bytes = data(100_000);
    let url = env.new_upload(&env.token(bytes.len()), bytes.len());
    env.emu.cut_next_body_after(40_000);
    let r = env
        .agent
        .patch(&url)
        .header("Tus-Resumable", "1.0.0")
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", "0")
        .send(&bytes[..]);
    assert!(r.is_err(), "the connection is cut");
    assert_eq!(env.head(&url).header("Upload-Offset"), Some("40000"));
    assert_eq!(env.patch(&url, 40_000, &bytes[40_000..], &[]).status, 204);
    assert_eq!(env.emu.stored_bytes(&url), Some(bytes));
}

#[test]
fn an_interrupted_raw_patch_keeps_what_arrived() {
    let env = Env::new("raw-cut");
    let url = env.new_upload(&env.token(1000), 1000);
    let path = url.trim_start_matches(env.emu.base_url());
    let mut s = TcpStream::connect(env.emu.addr()).expect("connect");
    let head = format!(
        "PATCH {path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n\
         Content-Length: 1000\r\n\r\n"
    );
    s.write_all(head.as_bytes()).expect("write");
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
    let env = Env::new("chunked");
    let url = env.new_upload(&env.token(11), 11);
    let path = url.trim_start_matches(env.emu.base_url()).to_string();
    let mut s = TcpStream::connect(env.emu.addr()).expect("connect");
    let req = format!(
        "PATCH {path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n1;ext=1\r\n \r\n0\r\n\r\n"
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    assert!(out.starts_with("HTTP/1.1 204"), "{out}");
    assert!(out.contains("Upload-Offset: 6"), "{out}");

    let mut s = TcpStream::connect(env.emu.addr()).expect("connect");
    let req = format!(
        "PATCH {path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: 6\r\n\
         Content-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut interim = [0u8; 25];
    s.read_exact(&mut interim).expect("read 100");
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(b"world").expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    assert!(out.contains("Upload-Offset: 11"), "{out}");
    assert_eq!(env.emu.stored_bytes(&url), Some(b"hello world".to_vec()));
}

#[test]
fn parallel_uploads_on_several_connections() {
    let env = Env::new("parallel");
    let token = env.token(4 * 200_000);
    let parts: Vec<Vec<u8>> = (0..4).map(|i| vec![i as u8; 200_000]).collect();
    let urls: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .iter()
            .map(|part| {
                let env = &env;
                let token = &token;
                s.spawn(move || {
                    let agent: Agent = Agent::config_builder()
                        .http_status_as_error(false)
                        .build()
                        .into();
                    let r = into_resp(
                        agent
                            .post(env.emu.tus_endpoint())
                            .header("Tus-Resumable", "1.0.0")
                            .header("Upload-Length", part.len().to_string())
                            .header("Upload-Concat", "partial")
                            .header("Upload-Metadata", metadata(token))
                            .send_empty(),
                    );
                    let url = r.header("Location").expect("Location").to_string();
                    for (i, chunk) in part.chunks(50_000).enumerate() {
                        let p = into_resp(
                            agent
                                .patch(&url)
                                .header("Tus-Resumable", "1.0.0")
                                .header("Content-Type", "application/offset+octet-stream")
                                .header("Upload-Offset", (i * 50_000).to_string())
                                .send(chunk),
                        );
                        assert_eq!(p.status, 204);
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
    let r = into_resp(
        env.agent
            .post(env.emu.tus_endpoint())
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Concat", format!("final;{}", urls.join(" ")))
            .send_empty(),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let f = env.finalize(&token, "a.png");
    assert_eq!(f.json()["file"]["hash"], md5_hex(&parts.concat()));
    assert_eq!(env.emu.uploads().iter().filter(|u| u.is_final).count(), 1);
}

#[test]
fn stop_frees_the_port_and_restart_resumes() {
    let dir = temp_dir("restart");
    let emu = Emulator::start(&dir).expect("start");
    let addr = emu.addr();
    let agent: Agent = Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let token = into_resp(
        agent
            .post(emu.generate_url())
            .header("Authorization", "k")
            .header("wix-site-id", "s")
            .send(br#"{"mimeType":"image/png"}"#.as_slice()),
    )
    .json()["uploadToken"]
        .as_str()
        .expect("token")
        .to_string();
    let created = into_resp(
        agent
            .post(emu.tus_endpoint())
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", "4")
            .header("Upload-Metadata", metadata(&token))
            .send_empty(),
    );
    let url = created.header("Location").expect("Location").to_string();
    let _ = into_resp(
        agent
            .patch(&url)
            .header("Tus-Resumable", "1.0.0")
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", "0")
            .send(b"ab".as_slice()),
    );
    emu.stop();
    // The port is free again and nothing answers on it.
    drop(TcpListener::bind(addr).expect("port is free after stop"));

    let emu = EmulatorConfig::new()
        .port(addr.port())
        .start(&dir)
        .expect("restart on the same port");
    // A new agent: the old one's pooled connection died with the first server.
    let agent: Agent = Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let h = into_resp(agent.head(&url).header("Tus-Resumable", "1.0.0").call());
    assert_eq!(h.header("Upload-Offset"), Some("2"));
    assert_eq!(emu.issued_tokens(), vec![token]);
    drop(emu);
    drop(TcpListener::bind(addr).expect("port is free after drop"));
}

/// Sends raw bytes on a new connection and returns everything the server answers.
fn raw_exchange(env: &Env, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(env.emu.addr()).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn malformed_requests_get_errors_not_panics() {
    let env = Env::new("malformed");
    assert!(raw_exchange(&env, b"GARBAGE\r\n\r\n").starts_with("HTTP/1.1 400"));
    let mut huge = b"GET / HTTP/1.1\r\nX: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 200_000));
    huge.extend_from_slice(b"\r\n\r\n");
    assert!(raw_exchange(&env, &huge).starts_with("HTTP/1.1 431"));
    let bad_len = b"PATCH /upload/tus/x HTTP/1.1\r\nContent-Length: nope\r\n\r\n";
    assert!(raw_exchange(&env, bad_len).starts_with("HTTP/1.1 400"));
    let bad_chunk = b"PATCH /upload/tus/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    assert!(!raw_exchange(&env, bad_chunk).is_empty());
    // Unknown routes and methods answer Wix-shaped errors; the server is still fine.
    let r = into_resp(
        env.agent
            .get(format!("{}/nowhere", env.emu.base_url()))
            .call(),
    );
    assert_eq!(r.status, 404);
    assert!(r.json()["details"]["applicationError"].is_object());
    let r = into_resp(env.agent.get(env.emu.generate_url()).call());
    assert_eq!(r.status, 405);
    let token = env.token(3);
    let url = env.new_upload(&token, 3);
    let bad_meta = into_resp(
        env.agent
            .post(env.emu.tus_endpoint())
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", "3")
            .header("Upload-Metadata", "token %%%")
            .send_empty(),
    );
    assert_eq!(bad_meta.status, 400);
    let no_offset = into_resp(
        env.agent
            .patch(&url)
            .header("Tus-Resumable", "1.0.0")
            .header("Content-Type", "application/offset+octet-stream")
            .send(b"abc".as_slice()),
    );
    assert_eq!(no_offset.status, 400);
}

#[test]
fn method_override_turns_a_post_into_a_patch() {
    let env = Env::new("override");
    let url = env.new_upload(&env.token(3), 3);
    let r = into_resp(
        env.agent
            .post(&url)
            .header("X-HTTP-Method-Override", "PATCH")
            .header("Tus-Resumable", "1.0.0")
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", "0")
            .send(b"abc".as_slice()),
    );
    assert_eq!(r.status, 204);
    assert_eq!(r.header("Upload-Offset"), Some("3"));
}
