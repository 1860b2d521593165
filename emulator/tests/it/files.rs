//! Changing files: update a descriptor (rename, move, relabel), the trash (delete, restore,
//! delete for good), and download URLs that serve the bytes.

use serde_json::{Value, json};
use wix_media_testkit::emulator::{AUTH, Emu};
use wix_media_testkit::http::{get, send};

use crate::support::{ReadSide, id_of, ids};

/// The ids `GET /files?parentFolderId=folder` lists, sorted.
fn listed(env: &Emu, folder: &str) -> Vec<String> {
    let mut got = ids(&env.list_all(&format!("parentFolderId={folder}")).0);
    got.sort();
    got
}

/// The ids a search of `root` finds, sorted.
fn searched(env: &Emu, root: &str) -> Vec<String> {
    let mut got = ids(&env.search_all(&json!({ "rootFolder": root })).0);
    got.sort();
    got
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn update_renames_moves_and_relabels_but_never_changes_privacy() {
    let env = Emu::start();
    let a = env.folder("a", "media-root");
    let b = env.folder("b", "media-root");
    let file = env.text_file(
        "old.txt",
        b"abc",
        &json!({"parentFolderId": a, "labels": ["x"]}),
    );
    let id = id_of(&file);
    let update = |changes: Value| {
        let mut body = json!({ "file": changes });
        body["file"]["id"] = json!(id);
        env.api_patch("/files/update-file-descriptor", &body)
    };

    let r = update(json!({"displayName": "new.txt"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let renamed = &r.json()["file"];
    assert_eq!(renamed["displayName"], "new.txt");
    assert_eq!(
        renamed["labels"],
        json!(["x"]),
        "only the fields given change"
    );
    assert_eq!(renamed["parentFolderId"], a.as_str());
    assert!(renamed["updatedDate"].as_str() >= file["updatedDate"].as_str());
    assert_eq!(renamed["createdDate"], file["createdDate"]);

    let r = update(json!({"parentFolderId": b, "labels": ["y", "z"], "private": false}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["file"]["labels"], json!(["y", "z"]));
    assert_eq!(listed(&env, &a), Vec::<String>::new());
    assert_eq!(listed(&env, &b), vec![id.clone()]);
    assert_eq!(env.get_file(&id).json()["file"]["displayName"], "new.txt");

    let private = update(json!({"private": true}));
    assert_eq!(private.status, 400, "{}", private.body);
    let nowhere = update(json!({"parentFolderId": "no-such-folder"}));
    assert_eq!(nowhere.status, 404, "{}", nowhere.body);
    assert_eq!(update(json!({"displayName": ""})).status, 400);
    assert_eq!(update(json!({"labels": "not-a-list"})).status, 400);
    let unknown = env.api_patch(
        "/files/update-file-descriptor",
        &json!({"file": {"id": "nope", "displayName": "x"}}),
    );
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert_eq!(
        env.api_patch("/files/update-file-descriptor", &json!({}))
            .status,
        400
    );
    // Refused updates changed nothing.
    let now = env.get_file(&id).json()["file"].clone();
    assert_eq!(now["private"], false);
    assert_eq!(now["parentFolderId"], b.as_str());
    // The route takes PATCH only.
    let post = env.api_post(
        "/files/update-file-descriptor",
        &json!({"file": {"id": id}}),
    );
    assert_eq!(post.status, 405);
    assert_eq!(post.header("Allow"), Some("PATCH"));
}

#[test]
fn deleted_files_go_to_the_trash_come_back_and_go_for_good_when_asked() {
    let env = Emu::start();
    let folder = env.folder("f", "media-root");
    let place = json!({ "parentFolderId": folder });
    let [a, b, c] =
        ["a.txt", "b.txt", "c.txt"].map(|n| id_of(&env.text_file(n, n.as_bytes(), &place)));
    let delete = |ids: &[&str], permanent: bool| {
        env.api_post(
            "/bulk/files/delete",
            &json!({"fileIds": ids, "permanent": permanent}),
        )
    };

    let r = delete(&[&a], false);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({}));
    let trashed = env.get_file(&a);
    assert_eq!(
        trashed.status, 200,
        "still readable by id: {}",
        trashed.body
    );
    assert_eq!(trashed.json()["file"]["state"], "DELETED");
    assert_eq!(trashed.json()["file"]["parentFolderId"], folder.as_str());
    assert_eq!(listed(&env, &folder), sorted(vec![b.clone(), c.clone()]));
    assert_eq!(
        searched(&env, "MEDIA_ROOT"),
        sorted(vec![b.clone(), c.clone()])
    );
    assert_eq!(searched(&env, "TRASH_ROOT"), vec![a.clone()]);
    // Deleting a trashed file again is not an error.
    assert_eq!(delete(&[&a], false).status, 200);
    assert_eq!(searched(&env, "TRASH_ROOT"), vec![a.clone()]);

    let r = env.api_post("/bulk/trash-bin/files/restore", &json!({ "fileIds": [a] }));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(env.get_file(&a).json()["file"]["state"], "OK");
    assert_eq!(
        listed(&env, &folder),
        sorted(vec![a.clone(), b.clone(), c.clone()])
    );
    assert!(searched(&env, "TRASH_ROOT").is_empty());
    // Restoring a file that isn't trashed changes nothing.
    let r = env.api_post("/bulk/trash-bin/files/restore", &json!({ "fileIds": [b] }));
    assert_eq!(r.status, 200, "{}", r.body);

    // For good: from the folder, or from the trash.
    assert_eq!(delete(&[&b], false).status, 200);
    assert_eq!(delete(&[&b, &c], true).status, 200);
    for gone in [&b, &c] {
        assert_eq!(env.get_file(gone).status, 404);
        assert_eq!(env.emu.file_bytes(gone), None);
    }
    assert!(searched(&env, "TRASH_ROOT").is_empty());
    assert_eq!(listed(&env, &folder), vec![a.clone()]);
    let files_on_disk = std::fs::read_dir(env.dir().join("emu/files"))
        .expect("files dir")
        .count();
    assert_eq!(
        files_on_disk, 2,
        "the record and bytes of the one file left"
    );
}

#[test]
fn bulk_delete_and_restore_change_nothing_when_an_id_is_unknown() {
    let env = Emu::start();
    let kept = id_of(&env.text_file("kept.txt", b"k", &json!({})));
    for route in ["/bulk/files/delete", "/bulk/trash-bin/files/restore"] {
        let r = env.api_post(route, &json!({"fileIds": [kept, "no-such-file"]}));
        assert_eq!(r.status, 404, "{route}: {}", r.body);
        assert_eq!(env.api_post(route, &json!({"fileIds": []})).status, 400);
        assert_eq!(env.api_post(route, &json!({})).status, 400);
    }
    let r = env.api_post(
        "/bulk/files/delete",
        &json!({"fileIds": [kept], "permanent": "yes"}),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(env.get_file(&kept).json()["file"]["state"], "OK");
}

#[test]
fn download_urls_serve_the_bytes_without_credentials() {
    let env = Emu::start();
    let file = env.text_file("report.txt", b"the report", &json!({}));
    let id = id_of(&file);
    let url_for = |body: Value| {
        let r = env.api_post("/files/generate-file-download-url", &body);
        assert_eq!(r.status, 200, "{}", r.body);
        let first = r.json()["downloadUrls"][0].clone();
        assert_eq!(first["assetKey"], "src");
        first["url"].as_str().expect("url").to_string()
    };

    let url = url_for(json!({ "fileId": id }));
    assert!(url.starts_with(env.emu.base_url()), "{url}");
    let r = get(&env.agent, &url, &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body, "the report");
    assert_eq!(r.header("Content-Type"), Some("text/plain"));
    assert_eq!(
        r.header("Content-Disposition"),
        Some("attachment; filename=\"report.txt\"; filename*=UTF-8''report%2Etxt")
    );
    let head = send(&env.agent, "HEAD", &url, &[], b"");
    assert_eq!(head.status, 200);
    assert_eq!(head.body, "");

    let inline = url_for(json!({
        "fileId": id, "downloadFileName": "Q3 \"final\".txt", "contentDisposition": "INLINE",
        "expirationInMinutes": 5
    }));
    let r = get(&env.agent, &inline, &[]);
    assert_eq!(r.body, "the report");
    let disposition = r.header("Content-Disposition").expect("disposition");
    assert!(
        disposition.starts_with("inline; filename=\"Q3 _final_.txt\""),
        "{disposition}"
    );

    // A trashed file still serves; one deleted for good doesn't.
    let trash = env.api_post("/bulk/files/delete", &json!({ "fileIds": [id] }));
    assert_eq!(trash.status, 200);
    assert_eq!(get(&env.agent, &url, &[]).body, "the report");
    let gone = env.api_post(
        "/bulk/files/delete",
        &json!({"fileIds": [id], "permanent": true}),
    );
    assert_eq!(gone.status, 200);
    assert_eq!(get(&env.agent, &url, &[]).status, 404);

    let unknown = env.api_post(
        "/files/generate-file-download-url",
        &json!({"fileId": "nope"}),
    );
    assert_eq!(unknown.status, 404);
    for bad in [
        json!({}),
        json!({"fileId": "x", "expirationInMinutes": 0}),
        json!({"fileId": "x", "contentDisposition": "SIDEWAYS"}),
    ] {
        let r = env.api_post("/files/generate-file-download-url", &bad);
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    let base = env.emu.base_url();
    assert_eq!(
        get(&env.agent, &format!("{base}/download/unknown"), &AUTH).status,
        404
    );
}
