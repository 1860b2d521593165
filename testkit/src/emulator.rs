//! The emulator in tests: [`Emu`], an emulator on a temp dir of its own, and [`Api`], the
//! calls the tests make to it by hand (REST with the test credentials, tus requests), which
//! answer 4xx/5xx as values. `Api` also talks to an emulator in another process.

use std::ops::Deref;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use md5::Digest as _;
use serde_json::{Value, json};
use ureq::Agent;
use wix_media_emulator::{Emulator, EmulatorConfig};

use crate::TempDir;
use crate::http::{Resp, agent, encode, eventually, get, post_json, tus, tus_patch};

/// The headers every REST call of these tests sends.
pub const AUTH: [(&str, &str); 2] = [("Authorization", "IST.key"), ("wix-site-id", "site-1")];
/// The API key tests give the SDK for an [`Emu`].
pub const API_KEY: &str = "IST.test-api-key-0123456789";
/// The site id tests give the SDK for an [`Emu`].
pub const SITE: &str = "site-1";

/// The rules Wix checks at generate (on an emulator with `max_file_size(1000)`): a body and
/// the `ruleName` it breaks. Both generate routes and the SDK's request type are held to them.
pub fn generate_rule_cases() -> [(Value, &'static str); 4] {
    [
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
    ]
}

/// The hex MD5 of `bytes`: the `hash` of a Wix file.
pub fn md5_hex(bytes: &[u8]) -> String {
    md5::Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Asserts that `r` is a 200 answer whose `file` descriptor has each field of `expected` (a
/// JSON object), naming the field on a mismatch; that descriptor.
pub fn answered_file(r: &Resp, expected: &Value) -> Value {
    assert_eq!(r.status, 200, "{}", r.body);
    let file = r.json()["file"].clone();
    let fields = expected
        .as_object()
        .expect("the expected fields, a JSON object");
    for (field, want) in fields {
        assert_eq!(&file[field], want, "field {field} of {file}");
    }
    file
}

/// `n` bytes of a fixed pattern.
pub fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

/// A PNG header for a `w` x `h` image, padded to `len` bytes.
pub fn png(w: u32, h: u32, len: usize) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    v.extend_from_slice(&w.to_be_bytes());
    v.extend_from_slice(&h.to_be_bytes());
    v.resize(len.max(v.len()), 7);
    v
}

/// `Upload-Metadata` carrying only an upload token.
pub fn token_metadata(token: &str) -> String {
    format!("token {}", B64.encode(token))
}

/// An emulator's `id` field of a file answer.
pub fn file_id(r: &Resp) -> String {
    r.json()["file"]["id"]
        .as_str()
        .expect("file id")
        .to_string()
}

/// Calls to the emulator at `base` (`http://127.0.0.1:PORT`).
pub struct Api {
    pub agent: Agent,
    pub base: String,
}

impl Api {
    pub fn new(base: &str) -> Api {
        Api {
            agent: agent(),
            base: base.to_owned(),
        }
    }

    /// `{base}/site-media/v1/files`.
    pub fn files_url(&self) -> String {
        format!("{}/site-media/v1/files", self.base)
    }

    /// `{base}/upload/tus`.
    pub fn tus_url(&self) -> String {
        format!("{}/upload/tus", self.base)
    }

    /// `POST {files}/{route}` of `body` with `headers`.
    pub fn rest_as(&self, route: &str, headers: &[(&str, &str)], body: &Value) -> Resp {
        post_json(
            &self.agent,
            &format!("{}/{route}", self.files_url()),
            headers,
            body,
        )
    }

    /// `POST {files}/{route}` with the test credentials.
    pub fn rest(&self, route: &str, body: &Value) -> Resp {
        self.rest_as(route, &AUTH, body)
    }

    /// `generate-resumable-upload-url` of `body` with `headers`.
    pub fn generate_as(&self, headers: &[(&str, &str)], body: &Value) -> Resp {
        self.rest_as("generate-resumable-upload-url", headers, body)
    }

    /// `generate-resumable-upload-url` of `body`.
    pub fn generate(&self, body: &Value) -> Resp {
        self.generate_as(&AUTH, body)
    }

    /// A fresh upload token from `generate-resumable-upload-url` of `body`.
    pub fn token_for(&self, body: &Value) -> String {
        let r = self.generate(body);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["uploadToken"].as_str().expect("token").to_string()
    }

    /// A fresh upload token for an image of `size` bytes.
    pub fn token(&self, size: usize) -> String {
        self.token_for(&json!({
            "mimeType": "image/png", "fileName": "a.png", "sizeInBytes": size.to_string()
        }))
    }

    /// A tus request of `method` to `url` with `headers` and `body`.
    pub fn tus(&self, method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        tus(&self.agent, method, url, headers, body)
    }

    /// A creation of an upload of `length` bytes with `metadata`.
    pub fn create_with(&self, length: usize, metadata: &str) -> Resp {
        let length = length.to_string();
        let headers = [
            ("Upload-Length", length.as_str()),
            ("Upload-Metadata", metadata),
        ];
        self.tus("POST", &self.tus_url(), &headers, b"")
    }

    /// A creation of an upload of `length` bytes for `token`.
    pub fn create(&self, token: &str, length: usize) -> Resp {
        self.create_with(length, &token_metadata(token))
    }

    /// Creates an upload of `length` bytes for `token`; its URL.
    pub fn new_upload(&self, token: &str, length: usize) -> String {
        let r = self.create(token, length);
        assert_eq!(r.status, 201, "{}", r.body);
        r.location()
    }

    /// A PATCH of `body` at `offset`.
    pub fn patch(&self, url: &str, offset: usize, body: &[u8], extra: &[(&str, &str)]) -> Resp {
        tus_patch(&self.agent, url, offset as u64, body, extra)
    }

    /// A tus HEAD.
    pub fn head(&self, url: &str) -> Resp {
        self.tus("HEAD", url, &[], b"")
    }

    /// The `Upload-Offset` a HEAD answers (which must be 200).
    pub fn offset(&self, url: &str) -> u64 {
        let h = self.head(url);
        assert_eq!(h.status, 200, "{}", h.body);
        h.header("Upload-Offset")
            .and_then(|v| v.parse().ok())
            .expect("Upload-Offset")
    }

    /// The finalize of `token`'s upload, `?filename=` naming it (or no query).
    pub fn finalize(&self, token: &str, filename: Option<&str>) -> Resp {
        let query = filename.map_or(String::new(), |f| format!("?filename={}", encode(f)));
        let url = format!("{}/{token}{query}", self.tus_url());
        let json = [("Content-Type", "application/json")];
        crate::http::send(&self.agent, "PUT", &url, &json, b"{}")
    }

    /// `get-file-by-id` of `id` with `headers`.
    pub fn get_file_as(&self, id: &str, headers: &[(&str, &str)]) -> Resp {
        let url = format!("{}/get-file-by-id?fileId={}", self.files_url(), encode(id));
        get(&self.agent, &url, headers)
    }

    /// `get-file-by-id` of `id` with the test credentials.
    pub fn get_file(&self, id: &str) -> Resp {
        self.get_file_as(id, &AUTH)
    }

    /// A simple upload URL for `body` (`generate-upload-url`).
    pub fn upload_url(&self, body: &Value) -> String {
        let r = self.rest("generate-upload-url", body);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["uploadUrl"]
            .as_str()
            .expect("uploadUrl")
            .to_string()
    }

    /// `PUT url` of `body` as `content_type`: a simple upload.
    pub fn put(&self, url: &str, content_type: &str, body: &[u8]) -> Resp {
        let headers = [("Content-Type", content_type)];
        crate::http::send(&self.agent, "PUT", url, &headers, body)
    }

    /// Polls get-file-by-id until the file is no longer PENDING.
    pub fn settled(&self, id: &str) -> Value {
        eventually(&format!("{id} leaves PENDING"), || {
            let r = self.get_file(id);
            assert_eq!(r.status, 200, "{}", r.body);
            let file = r.json()["file"].clone();
            (file["operationStatus"] != "PENDING").then_some(file)
        })
    }

    /// A whole resumable upload of `bytes` (generate with `generate`, create, one PATCH), and
    /// its finalize with `filename` (or without the query).
    pub fn resumable(&self, generate: &Value, bytes: &[u8], filename: Option<&str>) -> Resp {
        let token = self.token_for(generate);
        let url = self.new_upload(&token, bytes.len());
        let p = self.patch(&url, 0, bytes, &[]);
        assert_eq!(p.status, 204, "{}", p.body);
        self.finalize(&token, filename)
    }
}

/// An emulator on a temp dir of its own, and the [`Api`] to it (`Deref`).
pub struct Emu {
    pub emu: Emulator,
    api: Api,
    // Holds the emulator's files (in `emu/` below it) until the end.
    dir: TempDir,
}

impl Emu {
    /// An emulator of the default configuration.
    pub fn start() -> Emu {
        Emu::with(EmulatorConfig::new())
    }

    /// An emulator of `config`.
    pub fn with(config: EmulatorConfig) -> Emu {
        let dir = TempDir::new("wmu-emu");
        let emu = config.start(dir.join("emu")).expect("start the emulator");
        let api = Api::new(emu.base_url());
        Emu { emu, api, dir }
    }

    /// A temp dir for the test's own files (the emulator's are in `emu/` below it).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// How many requests of `method` the emulator answered since the last reset.
    pub fn count(&self, method: &str) -> u64 {
        self.emu.request_counts().get(method).copied().unwrap_or(0)
    }
}

impl Deref for Emu {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}
