//! Folders: create, list by parent, get; the folder tree a `filePath` makes on every route
//! that takes one; and everything surviving a restart on the same directory.

use std::sync::Arc;
use std::thread;

use serde_json::{Value, json};
use wix_media_emulator::{Emulator, EmulatorConfig};
use wix_media_testkit::TempDir;
use wix_media_testkit::emulator::{Api, Emu, data, png};

use crate::support::{ReadSide, Source, follow, id_of, ids};

fn names(folders: &[Value]) -> Vec<String> {
    folders
        .iter()
        .map(|f| f["displayName"].as_str().expect("name").to_string())
        .collect()
}

/// Every folder of `parent`, by name, 1 a page.
fn children(env: &Emu, parent: &str) -> Vec<Value> {
    follow(
        |cursor| {
            let c = cursor.map_or(String::new(), |c| format!("&paging.cursor={c}"));
            env.api_get(&format!(
                "/folders?parentFolderId={parent}&sort.fieldName=displayName&paging.limit=1{c}"
            ))
        },
        "folders",
    )
    .0
}

#[test]
fn folders_are_created_listed_by_parent_and_read() {
    let env = Emu::start();
    let photos = env.folder("photos", "media-root");
    let docs = env.folder("docs", "media-root");
    // Two folders may share a name in one parent.
    let y1 = env.folder("2024", &photos);
    let y2 = env.folder("2024", &photos);
    assert_ne!(y1, y2);
    env.folder("2023", &photos);

    assert_eq!(names(&children(&env, "media-root")), ["docs", "photos"]);
    assert_eq!(names(&children(&env, &photos)), ["2023", "2024", "2024"]);
    assert!(children(&env, &docs).is_empty());
    // Without a parent: the root's; without a sort: newest first (then by id, descending).
    let r = env.api_get("/folders");
    assert_eq!(r.status, 200, "{}", r.body);
    let mut newest_first = children(&env, "media-root");
    newest_first.sort_by_key(|f| (f["updatedDate"].to_string(), id_of(f)));
    newest_first.reverse();
    assert_eq!(r.json()["folders"], json!(newest_first));

    let r = env.api_get(&format!("/folders/{y1}"));
    assert_eq!(r.status, 200, "{}", r.body);
    let folder = &r.json()["folder"];
    assert_eq!(folder["id"], y1.as_str());
    assert_eq!(folder["displayName"], "2024");
    assert_eq!(folder["parentFolderId"], photos.as_str());
    assert_eq!(folder["state"], "OK");
    assert!(
        folder["createdDate"]
            .as_str()
            .is_some_and(|d| d.ends_with('Z'))
    );
    let root = env.api_get("/folders/media-root");
    assert_eq!(root.status, 200, "{}", root.body);
    assert_eq!(root.json()["folder"]["id"], "media-root");
    assert_eq!(env.emu.folder_path(&y2).as_deref(), Some("/photos/2024"));

    assert_eq!(env.api_get("/folders/nope").status, 404);
    assert_eq!(env.api_get("/folders?parentFolderId=nope").status, 404);
    assert_eq!(
        env.api_get("/folders?sort.fieldName=sizeInBytes").status,
        400
    );
    assert_eq!(env.api_get("/folders?paging.limit=101").status, 400);
    let r = env.api_post(
        "/folders",
        &json!({"displayName": "x", "parentFolderId": "nope"}),
    );
    assert_eq!(r.status, 404, "{}", r.body);
    for bad in [
        json!({}),
        json!({"displayName": ""}),
        json!({"displayName": 7}),
    ] {
        assert_eq!(env.api_post("/folders", &bad).status, 400, "{bad}");
    }
    assert_eq!(env.emu.folders().len(), 5);
    let delete = wix_media_testkit::http::send(
        &env.agent,
        "DELETE",
        &env.emu.folders_url(),
        &wix_media_testkit::emulator::AUTH,
        b"",
    );
    assert_eq!(delete.status, 405);
    assert_eq!(delete.header("Allow"), Some("GET, POST"));
}

#[test]
fn file_paths_make_real_folders_so_same_named_files_stay_apart() {
    let env = Emu::with(EmulatorConfig::new().processing_delay(std::time::Duration::ZERO));
    let source = Source::start();
    // The simple route, the resumable route and import, into two folders of one tree.
    let simple = env.text_file("logo.txt", b"one", &json!({"filePath": "/site/a/b"}));
    let resumable = env.resumable(
        &json!({"mimeType": "text/plain", "fileName": "logo.txt", "filePath": "site/c/"}),
        &data(10),
        None,
    );
    assert_eq!(resumable.status, 200, "{}", resumable.body);
    let resumable = resumable.json()["file"].clone();
    let imported = env.rest(
        "import",
        &json!({"url": source.url("/pic.png"), "displayName": "logo.png", "filePath": "/site/a/b"}),
    );
    assert_eq!(imported.status, 200, "{}", imported.body);
    let imported = imported.json()["file"].clone();

    let path = |f: &Value| env.emu.path_of(f["id"].as_str().expect("id"));
    assert_eq!(path(&simple).as_deref(), Some("/site/a/b/logo.txt"));
    assert_eq!(path(&resumable).as_deref(), Some("/site/c/logo.txt"));
    assert_eq!(path(&imported).as_deref(), Some("/site/a/b/logo.png"));
    assert_ne!(simple["parentFolderId"], resumable["parentFolderId"]);
    assert_eq!(
        simple["parentFolderId"], imported["parentFolderId"],
        "folders are reused"
    );
    assert_eq!(simple["filePath"], "/site/a/b");

    // The tree, folder by folder, and the files in the leaves.
    let site = children(&env, "media-root");
    assert_eq!(names(&site), ["site"]);
    let site_id = site[0]["id"].as_str().expect("id");
    let ac = children(&env, site_id);
    assert_eq!(names(&ac), ["a", "c"]);
    let b = children(&env, ac[0]["id"].as_str().expect("id"));
    assert_eq!(names(&b), ["b"]);
    let (in_b, _) = env.list_all(&format!(
        "parentFolderId={}",
        b[0]["id"].as_str().expect("id")
    ));
    let mut want = ids(&[simple, imported]);
    want.sort();
    let mut got = ids(&in_b);
    got.sort();
    assert_eq!(got, want);
    assert_eq!(env.emu.folders().len(), 4, "site, a, b, c");

    // A path is below parentFolderId; an unknown parent refuses the call.
    let under = env.folder("under", "media-root");
    let deeper = env.text_file(
        "d.txt",
        b"d",
        &json!({"parentFolderId": under, "filePath": "/x"}),
    );
    assert_eq!(path(&deeper).as_deref(), Some("/under/x/d.txt"));
    for route in ["generate-upload-url", "generate-resumable-upload-url"] {
        let r = env.rest(
            route,
            &json!({"mimeType": "text/plain", "fileName": "a.txt", "parentFolderId": "nope"}),
        );
        assert_eq!(r.status, 404, "{route}: {}", r.body);
        assert_eq!(r.code().as_deref(), Some("NOT_FOUND"));
    }
}

#[test]
fn one_new_path_asked_for_at_once_is_made_once() {
    let env = Arc::new(Emu::start());
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let env = Arc::clone(&env);
            thread::spawn(move || {
                let api = Api::new(env.emu.base_url());
                let name = format!("{i}.txt");
                api.text_file(&name, b"x", &json!({"filePath": "/same/new/path"}))
            })
        })
        .collect();
    let files: Vec<Value> = threads
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    assert_eq!(env.emu.folders().len(), 3);
    let parents: Vec<&Value> = files.iter().map(|f| &f["parentFolderId"]).collect();
    assert!(parents.iter().all(|p| *p == parents[0]), "{parents:?}");
}

#[test]
fn folders_files_and_the_trash_survive_a_restart() {
    let dir = TempDir::new("wmu-emu-restart");
    let emu = Emulator::start(dir.path()).expect("start");
    let api = Api::new(emu.base_url());
    let kept = api.text_file("kept.txt", b"kept", &json!({"filePath": "/a/b"}));
    let trashed = api.text_file("trashed.txt", b"gone", &json!({"filePath": "/a"}));
    let url = api.upload_url(&json!({"mimeType": "image/png", "fileName": "p.png"}));
    let old = api.put(&url, "image/png", &png(1, 1, 40)).json()["file"].clone();
    let trash = api.api_post("/bulk/files/delete", &json!({"fileIds": [trashed["id"]]}));
    assert_eq!(trash.status, 200);
    let folders = emu.folders();
    emu.stop();

    // A record written before `state` and `updated_ms` existed still loads.
    let old_path = dir
        .path()
        .join(format!("files/{}.json", old["id"].as_str().expect("id")));
    let mut record: Value =
        serde_json::from_slice(&std::fs::read(&old_path).expect("record")).expect("json");
    let fields = record.as_object_mut().expect("object");
    assert!(fields.remove("state").is_some() && fields.remove("updated_ms").is_some());
    std::fs::write(&old_path, record.to_string()).expect("write");

    let emu = Emulator::start(dir.path()).expect("restart");
    let api = Api::new(emu.base_url());
    assert_eq!(emu.folders(), folders);
    let kept_id = kept["id"].as_str().expect("id");
    assert_eq!(emu.path_of(kept_id).as_deref(), Some("/a/b/kept.txt"));
    let (trash, _) = api.search_all(&json!({"rootFolder": "TRASH_ROOT"}));
    assert_eq!(ids(&trash), vec![id_of(&trashed)]);
    let (root, _) = api.list_all("");
    assert_eq!(ids(&root), vec![id_of(&old)]);
    assert_eq!(root[0]["state"], "OK");
    assert_eq!(root[0]["updatedDate"], old["updatedDate"]);
    // New files still land in the old folders.
    let again = api.text_file("again.txt", b"x", &json!({"filePath": "/a/b"}));
    assert_eq!(again["parentFolderId"], kept["parentFolderId"]);
    emu.stop();
}
