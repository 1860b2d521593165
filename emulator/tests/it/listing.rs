//! Listing files: a folder's files page by page in every sort order, search over a root,
//! cursors that stay right while files are added, and the list lag.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};
use wix_media_emulator::EmulatorConfig;
use wix_media_testkit::emulator::{Emu, png};
use wix_media_testkit::http::eventually;

use crate::support::{ReadSide, id_of, ids};

/// The sort orders of the list and search routes: (`sort.fieldName`, `sort.order`).
const SORTS: [(&str, &str); 6] = [
    ("displayName", "ASC"),
    ("displayName", "DESC"),
    ("updatedDate", "ASC"),
    ("updatedDate", "DESC"),
    ("sizeInBytes", "ASC"),
    ("sizeInBytes", "DESC"),
];

/// `n` text files in folder `folder`, whose name order, size order and creation order all
/// differ; their descriptors.
fn fill(env: &Emu, folder: &str, n: usize, tag: &str) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let name = format!("{tag}-{:03}.txt", (i * 53) % n);
            let bytes = vec![b'x'; (i * 37) % n + 1];
            env.text_file(&name, &bytes, &json!({ "parentFolderId": folder }))
        })
        .collect()
}

/// The ids of `files` in the order Wix's sort gives: by the field, then by id.
fn sorted(files: &[Value], field: &str, order: &str) -> Vec<String> {
    let mut keyed: Vec<(Value, String)> = files
        .iter()
        .map(|f| {
            let key = match field {
                // Sizes are decimal strings: compare them as numbers.
                "sizeInBytes" => json!(f[field].as_str().and_then(|s| s.parse::<u64>().ok())),
                _ => f[field].clone(),
            };
            (key, f["id"].as_str().expect("id").to_string())
        })
        .collect();
    keyed.sort_by(|a, b| {
        let key = match (&a.0, &b.0) {
            (Value::Number(x), Value::Number(y)) => x.as_u64().cmp(&y.as_u64()),
            (x, y) => x.as_str().cmp(&y.as_str()),
        };
        key.then_with(|| a.1.cmp(&b.1))
    });
    if order == "DESC" {
        keyed.reverse();
    }
    keyed.into_iter().map(|(_, id)| id).collect()
}

#[test]
fn a_folder_pages_by_at_most_100_in_every_sort_order() {
    let env = Emu::start();
    let folder = env.folder("many", "media-root");
    let files = fill(&env, &folder, 130, "f");
    // Neighbours that must not show: the root's files, another folder's.
    env.text_file("root.txt", b"r", &json!({}));
    let other = env.folder("other", "media-root");
    env.text_file("other.txt", b"o", &json!({ "parentFolderId": other }));

    for (field, order) in SORTS {
        let query = format!("parentFolderId={folder}&sort.fieldName={field}&sort.order={order}");
        let (listed, pages) = env.list_all(&format!("{query}&paging.limit=100"));
        assert_eq!(pages, vec![100, 30], "{field} {order}");
        assert_eq!(
            ids(&listed),
            sorted(&files, field, order),
            "{field} {order}"
        );
        // The default page is 50.
        let (_, pages) = env.list_all(&query);
        assert_eq!(pages, vec![50, 50, 30], "{field} {order}");
    }
    // No sort: updatedDate, newest first.
    let (listed, _) = env.list_all(&format!("parentFolderId={folder}&paging.limit=100"));
    assert_eq!(ids(&listed), sorted(&files, "updatedDate", "DESC"));
    // The root lists only its own file.
    let (root, _) = env.list_all("");
    assert_eq!(root.len(), 1);
    assert_eq!(root[0]["displayName"], "root.txt");
}

#[test]
fn list_filters_by_media_type_and_privacy_and_refuses_bad_queries() {
    let env = Emu::start();
    let folder = env.folder("mixed", "media-root");
    let text = env.text_file("a.txt", b"a", &json!({ "parentFolderId": folder }));
    let url = env.upload_url(&json!({
        "mimeType": "image/png", "fileName": "b.png", "parentFolderId": folder, "private": true
    }));
    let r = env.put(&url, "image/png", &png(2, 2, 100));
    assert_eq!(r.status, 200, "{}", r.body);
    let image = r.json()["file"].clone();

    let only = |query: &str| {
        let (files, _) = env.list_all(&format!("parentFolderId={folder}&{query}"));
        ids(&files)
    };
    assert_eq!(only("mediaTypes=IMAGE"), vec![id_of(&image)]);
    assert_eq!(only("mediaTypes=DOCUMENT"), vec![id_of(&text)]);
    assert_eq!(only("mediaTypes=IMAGE&mediaTypes=DOCUMENT").len(), 2);
    assert_eq!(only("mediaTypes=IMAGE,DOCUMENT").len(), 2);
    assert_eq!(only("private=true"), vec![id_of(&image)]);
    assert_eq!(only("private=false"), vec![id_of(&text)]);
    assert!(only("mediaTypes=VIDEO").is_empty());

    for bad in [
        "paging.limit=101",
        "paging.limit=-1",
        "paging.limit=lots",
        "sort.fieldName=hash",
        "sort.order=UP",
        "mediaTypes=HOLOGRAM",
        "private=maybe",
        "paging.cursor=not-a-cursor",
    ] {
        let r = env.api_get(&format!("/files?{bad}"));
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert!(!r.rule_names().is_empty(), "{bad}: {}", r.body);
    }
    let r = env.api_get("/files?parentFolderId=no-such-folder");
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.code().as_deref(), Some("NOT_FOUND"));
}

#[test]
fn search_spans_every_folder_and_matches_names_types_and_labels() {
    let env = Emu::start();
    let a = env.folder("a", "media-root");
    let b = env.folder("b", &a);
    let in_root = env.text_file("Holiday.txt", b"1", &json!({}));
    let in_a = env.text_file(
        "notes.txt",
        b"2",
        &json!({"parentFolderId": a, "labels": ["beach"]}),
    );
    let in_b = env.text_file("holiday-2.txt", b"3", &json!({ "parentFolderId": b }));
    let url = env.upload_url(&json!({"mimeType": "image/png", "fileName": "pic.png"}));
    let png_file = env.put(&url, "image/png", &png(1, 1, 50)).json()["file"].clone();

    let found = |body: Value| {
        let (files, _) = env.search_all(&body);
        let mut got = ids(&files);
        got.sort();
        got
    };
    let expect = |files: &[&Value]| {
        let mut want: Vec<String> = files
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_string())
            .collect();
        want.sort();
        want
    };
    assert_eq!(
        found(json!({})),
        expect(&[&in_root, &in_a, &in_b, &png_file])
    );
    // The term matches part of a name (any case), the MIME type, a label.
    assert_eq!(
        found(json!({"search": "HOLIDAY"})),
        expect(&[&in_root, &in_b])
    );
    assert_eq!(found(json!({"search": "image/png"})), expect(&[&png_file]));
    assert_eq!(found(json!({"search": "beach"})), expect(&[&in_a]));
    assert_eq!(
        found(json!({"search": "text/plain", "mediaTypes": ["DOCUMENT"]})).len(),
        3
    );
    assert_eq!(
        found(json!({"rootFolder": "MEDIA_ROOT", "mediaTypes": ["IMAGE"]})),
        expect(&[&png_file])
    );
    assert!(found(json!({"rootFolder": "TRASH_ROOT"})).is_empty());
    assert!(found(json!({"rootFolder": "VISITOR_UPLOADS_ROOT"})).is_empty());
    let r = env.api_post("/files/search", &json!({"rootFolder": "ELSEWHERE"}));
    assert_eq!(r.status, 400, "{}", r.body);
}

#[test]
fn search_pages_by_at_most_200_in_every_sort_order() {
    let env = Emu::start();
    let a = env.folder("a", "media-root");
    let b = env.folder("b", &a);
    let mut files = fill(&env, &a, 110, "a");
    files.extend(fill(&env, &b, 95, "b"));
    for (field, order) in SORTS {
        let body = json!({
            "sort": {"fieldName": field, "order": order}, "paging": {"limit": 200}
        });
        let (found, pages) = env.search_all(&body);
        assert_eq!(pages, vec![200, 5], "{field} {order}");
        assert_eq!(ids(&found), sorted(&files, field, order), "{field} {order}");
    }
    let r = env.api_post("/files/search", &json!({"paging": {"limit": 201}}));
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.rule_names(), vec!["MAX".to_string()]);
}

#[test]
fn cursors_skip_and_repeat_nothing_while_the_folder_grows() {
    let env = Emu::start();
    for (field, order) in SORTS {
        let folder = env.folder(&format!("growing-{field}-{order}"), "media-root");
        let before = ids(&fill(&env, &folder, 40, "old"));
        let mut seen = Vec::new();
        let mut added = 0;
        let mut cursor: Option<String> = None;
        loop {
            let c = cursor
                .as_ref()
                .map_or(String::new(), |c| format!("&paging.cursor={c}"));
            let r = env.api_get(&format!(
                "/files?parentFolderId={folder}&sort.fieldName={field}&sort.order={order}\
                 &paging.limit=7{c}"
            ));
            assert_eq!(r.status, 200, "{}", r.body);
            seen.extend(ids(r.json()["files"].as_array().expect("files")));
            // New files between pages, with names and sizes anywhere in the order.
            for _ in 0..3 {
                let name = format!("new-{:03}.txt", (added * 71) % 97);
                env.text_file(
                    &name,
                    &vec![b'y'; (added * 29) % 41 + 1],
                    &json!({ "parentFolderId": folder }),
                );
                added += 1;
            }
            match r.json()["nextCursor"]["cursors"]["next"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => break,
            }
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "{field} {order}: a file came twice"
        );
        for id in &before {
            assert!(unique.contains(id), "{field} {order}: {id} was skipped");
        }
    }
}

#[test]
fn list_lag_hides_new_files_from_listings_but_not_from_reads_by_id() {
    let env = Emu::with(EmulatorConfig::new().list_lag(Duration::from_secs(3600)));
    let file = env.text_file("late.txt", b"late", &json!({}));
    let id = file["id"].as_str().expect("id");
    assert_eq!(env.get_file(id).status, 200);
    let r = env.api_post("/files/get-files", &json!({ "fileIds": [id] }));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(env.list_all("").0, Vec::<Value>::new());
    assert_eq!(
        env.search_all(&json!({"search": "late"})).0,
        Vec::<Value>::new()
    );

    // A short lag: the file shows once it has passed.
    let env = Emu::with(EmulatorConfig::new().list_lag(Duration::from_millis(200)));
    let file = env.text_file("soon.txt", b"soon", &json!({}));
    let listed = eventually("the file is listed", || {
        let (files, _) = env.list_all("");
        (!files.is_empty()).then_some(files)
    });
    assert_eq!(ids(&listed), vec![id_of(&file)]);
    let (found, _) = env.search_all(&json!({}));
    assert_eq!(ids(&found), vec![id_of(&file)]);
}
