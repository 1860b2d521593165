//! The read side and the folder routes by hand, for these tests: calls under
//! `{base}/site-media/v1` with the test credentials, paging followed to its end, and small
//! files uploaded where a test wants them (kept here rather than in the shared testkit).

use std::io::Write;

use serde_json::{Value, json};
use wix_media_testkit::emulator::png;
use wix_media_testkit::emulator::{AUTH, Api};
use wix_media_testkit::http::{Resp, get, post_json, send};
use wix_media_testkit::raw_server::{Next, RawServer, respond, write_response};

/// The REST routes of the read side, on an [`Api`] (and so on an `Emu`).
pub trait ReadSide {
    /// `GET {base}/site-media/v1{path}` (`path` may carry a query).
    fn api_get(&self, path: &str) -> Resp;
    /// `POST {base}/site-media/v1{path}` of `body`.
    fn api_post(&self, path: &str, body: &Value) -> Resp;
    /// `PATCH {base}/site-media/v1{path}` of `body`.
    fn api_patch(&self, path: &str, body: &Value) -> Resp;

    /// Creates folder `name` in `parent`; its id.
    fn folder(&self, name: &str, parent: &str) -> String {
        let r = self.api_post(
            "/folders",
            &json!({"displayName": name, "parentFolderId": parent}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["folder"]["id"]
            .as_str()
            .expect("folder id")
            .to_string()
    }

    /// A simple upload of `bytes` as text file `name` with the extra generate fields of
    /// `placement` (`parentFolderId`, `filePath`, `labels`, ...); the file's descriptor.
    fn text_file(&self, name: &str, bytes: &[u8], placement: &Value) -> Value {
        let mut body = json!({"mimeType": "text/plain", "fileName": name});
        if let Some(fields) = placement.as_object() {
            for (k, v) in fields {
                body[k] = v.clone();
            }
        }
        let r = self.api_post("/files/generate-upload-url", &body);
        assert_eq!(r.status, 200, "{}", r.body);
        let url = r.json()["uploadUrl"]
            .as_str()
            .expect("uploadUrl")
            .to_string();
        let put = self.simple_put(&url, bytes);
        assert_eq!(put.status, 200, "{}", put.body);
        put.json()["file"].clone()
    }

    /// `PUT url` of `bytes` as text.
    fn simple_put(&self, url: &str, bytes: &[u8]) -> Resp;

    /// Every page of `GET /files?{query}`, the cursor followed to its end (each page's
    /// `query` kept, as a client would send it); the files and the page sizes.
    fn list_all(&self, query: &str) -> (Vec<Value>, Vec<usize>) {
        follow(
            |cursor| {
                let sep = if query.is_empty() { "" } else { "&" };
                let cursor = cursor.map_or(String::new(), |c| format!("&paging.cursor={c}"));
                self.api_get(&format!("/files?{query}{sep}{cursor}"))
            },
            "files",
        )
    }

    /// Every page of `POST /files/search` of `body`, the cursor followed to its end.
    fn search_all(&self, body: &Value) -> (Vec<Value>, Vec<usize>) {
        follow(
            |cursor| {
                let mut b = body.clone();
                if let Some(c) = cursor {
                    b["paging"]["cursor"] = json!(c);
                }
                self.api_post("/files/search", &b)
            },
            "files",
        )
    }
}

impl ReadSide for Api {
    fn api_get(&self, path: &str) -> Resp {
        get(
            &self.agent,
            &format!("{}/site-media/v1{path}", self.base),
            &AUTH,
        )
    }

    fn api_post(&self, path: &str, body: &Value) -> Resp {
        let url = format!("{}/site-media/v1{path}", self.base);
        post_json(&self.agent, &url, &AUTH, body)
    }

    fn api_patch(&self, path: &str, body: &Value) -> Resp {
        let url = format!("{}/site-media/v1{path}", self.base);
        let mut headers = AUTH.to_vec();
        headers.push(("Content-Type", "application/json"));
        send(
            &self.agent,
            "PATCH",
            &url,
            &headers,
            body.to_string().as_bytes(),
        )
    }

    fn simple_put(&self, url: &str, bytes: &[u8]) -> Resp {
        self.put(url, "text/plain", bytes)
    }
}

/// Pages through a listing: `page(cursor)` answers one page; the items under `field` of
/// every page, and the size of each page.
pub fn follow(mut page: impl FnMut(Option<&str>) -> Resp, field: &str) -> (Vec<Value>, Vec<usize>) {
    let mut items = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let r = page(cursor.as_deref());
        assert_eq!(r.status, 200, "{}", r.body);
        let body = r.json();
        let got = body[field].as_array().expect("an array of items").clone();
        sizes.push(got.len());
        items.extend(got);
        match body["nextCursor"]["cursors"]["next"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return (items, sizes),
        }
        assert!(sizes.len() < 1000, "paging never ends");
    }
}

/// The `id` of a descriptor (or folder).
pub fn id_of(item: &Value) -> String {
    item["id"].as_str().expect("id").to_string()
}

/// The `id`s of descriptors (or folders).
pub fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|f| f["id"].as_str().expect("id").to_string())
        .collect()
}

/// A tiny HTTP server for import sources: `/pic.png` and `/noext` (Content-Length,
/// image/png), `/chunked.txt` (chunked, no type), `/untyped` (no length, no type, ends at
/// close), anything else 404.
pub struct Source {
    server: RawServer,
    pub pic: Vec<u8>,
}

impl Source {
    pub fn start() -> Source {
        let pic = png(12, 34, 70_000);
        let body = pic.clone();
        let server = RawServer::start(move |req, s| {
            let _ = match req.path.as_str() {
                "/pic.png" | "/noext" => respond(s, 200, &[("Content-Type", "image/png")], &body),
                "/chunked.txt" => write_response(
                    s,
                    200,
                    &[("Transfer-Encoding", "chunked")],
                    b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                ),
                "/untyped" => s.write_all(b"HTTP/1.0 200 OK\r\n\r\nsome bytes"),
                _ => respond(s, 404, &[], b""),
            };
            Next::Close
        });
        Source { server, pic }
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }
}
