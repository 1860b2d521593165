//! The read side against the emulator: paging in every order, folders and paths, the trash,
//! updates, download URLs, the list lag and typed errors.

use std::collections::BTreeSet;
use std::time::Duration;

use wix_media_emulator::EmulatorConfig;
use wix_media_testkit::emulator::Emu;
use wix_media_testkit::http::{agent, try_send};
use wix_media_upload::wix::{
    FileDescriptor, FileOptions, FileState, FileUpdate, FileUpload, ListFiles, ListFolders,
    MEDIA_ROOT, RootFolder, SearchFiles, SortField, SortOrder, WixClient,
};

use crate::support::{EmuExt, pseudo_random_bytes};

fn client(emu: &Emu) -> WixClient {
    WixClient::builder(emu.credentials()).build().unwrap()
}

/// Uploads `name` holding `len` bytes into the folder at `path` (made as needed).
fn upload(emu: &Emu, client: &WixClient, path: &str, name: &str, len: usize) -> FileDescriptor {
    let file = emu.dir().join(name);
    std::fs::write(&file, pseudo_random_bytes(len, len as u64)).unwrap();
    let options = FileOptions::new().file_path(path);
    client
        .upload_with(&file, FileUpload::new().options(options))
        .expect("upload")
        .file
}

fn id(file: &FileDescriptor) -> &str {
    file.id.as_deref().expect("the file has an id")
}

/// Requests of `route` since the last reset.
fn count(emu: &Emu, route: &str) -> u64 {
    emu.emu.route_counts().get(route).copied().unwrap_or(0)
}

/// Whether `files` are in `order` of `field` (ties allowed).
fn sorted(files: &[FileDescriptor], field: SortField, order: SortOrder) -> bool {
    files.windows(2).all(|pair| {
        let [a, b] = pair else { return true };
        let cmp = match field {
            SortField::DisplayName => a.display_name.cmp(&b.display_name),
            SortField::SizeInBytes => a.size_in_bytes.cmp(&b.size_in_bytes),
            _ => a.updated_date.cmp(&b.updated_date),
        };
        match order {
            SortOrder::Asc => cmp.is_le(),
            _ => cmp.is_ge(),
        }
    })
}

#[test]
fn listing_pages_through_more_than_100_files_in_every_order() {
    let emu = Emu::start();
    let client = client(&emu);
    // Names, sizes and creation order all differ in their order.
    let mut uploaded = BTreeSet::new();
    for i in 0..105usize {
        let name = format!("f{:03}.txt", (i * 37) % 105);
        let file = upload(&emu, &client, "/paging", &name, ((i * 53) % 105 + 1) * 10);
        uploaded.insert(id(&file).to_owned());
    }
    let folder = client
        .find_folder("/paging")
        .unwrap()
        .expect("made by filePath");
    let sorts = [
        (SortField::DisplayName, SortOrder::Asc),
        (SortField::DisplayName, SortOrder::Desc),
        (SortField::UpdatedDate, SortOrder::Asc),
        (SortField::UpdatedDate, SortOrder::Desc),
        (SortField::SizeInBytes, SortOrder::Asc),
        (SortField::SizeInBytes, SortOrder::Desc),
    ];
    for (field, order) in sorts {
        emu.emu.reset_request_counts();
        let query = ListFiles::new()
            .parent_folder_id(&folder.id)
            .sort(field, order);
        let files: Vec<FileDescriptor> = client.list(query).collect::<Result<_, _>>().unwrap();
        // 100, then 5.
        assert_eq!(count(&emu, "GET list-files"), 2, "{field:?} {order:?}");
        let ids: BTreeSet<String> = files.iter().map(|f| id(f).to_owned()).collect();
        assert_eq!(files.len(), 105, "{field:?} {order:?}: each file once");
        assert_eq!(ids, uploaded, "{field:?} {order:?}");
        assert!(sorted(&files, field, order), "{field:?} {order:?}");
    }
    // Wix's default order: newest first, across the page boundary.
    emu.emu.reset_request_counts();
    let query = ListFiles::new().parent_folder_id(&folder.id);
    let newest_first: Vec<FileDescriptor> = client.list(query).collect::<Result<_, _>>().unwrap();
    assert_eq!(count(&emu, "GET list-files"), 2);
    assert_eq!(newest_first.len(), 105);
    assert!(sorted(
        &newest_first,
        SortField::UpdatedDate,
        SortOrder::Desc
    ));
    // The first n items read only the pages they need: one here, and the same files.
    emu.emu.reset_request_counts();
    let query = ListFiles::new().parent_folder_id(&folder.id);
    let first_three: Vec<FileDescriptor> = client
        .list(query)
        .take(3)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(count(&emu, "GET list-files"), 1);
    assert_eq!(first_three, newest_first[..3]);
    // A search covers every folder, 200 a page: one request.
    emu.emu.reset_request_counts();
    let found: Vec<FileDescriptor> = client
        .list(SearchFiles::new().search(".TXT"))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(count(&emu, "POST search-files"), 1);
    assert_eq!(found.len(), 105);
}

#[test]
fn a_listing_that_fits_one_page_is_one_request() {
    let emu = Emu::start();
    let client = client(&emu);
    for i in 0..5 {
        upload(&emu, &client, "/few", &format!("p{i}.txt"), 10 + i);
    }
    let folder = client.find_folder("/few").unwrap().unwrap();
    emu.emu.reset_request_counts();
    let query = ListFiles::new().parent_folder_id(&folder.id);
    let files: Vec<FileDescriptor> = client.list(query).collect::<Result<_, _>>().unwrap();
    // The last page has no cursor: nothing more is asked for.
    assert_eq!(count(&emu, "GET list-files"), 1);
    let mut all: Vec<&str> = files.iter().map(id).collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 5);
}

#[test]
fn folders_from_file_path_are_found_and_ensured() {
    let emu = Emu::start();
    let client = client(&emu);
    let file = upload(&emu, &client, "/a/b/c", "deep.txt", 100);
    let c = client
        .find_folder("/a/b/c")
        .unwrap()
        .expect("made by filePath");
    assert_eq!(file.parent_folder_id.as_deref(), Some(c.id.as_str()));
    assert_eq!(c.display_name.as_deref(), Some("c"));
    assert_eq!(client.get_folder(&c.id).unwrap(), c);
    assert_eq!(
        client.find_folder("a/b/").unwrap().map(|f| f.display_name),
        Some(Some("b".into()))
    );
    assert_eq!(client.find_folder("/a/x").unwrap(), None);
    assert_eq!(client.find_folder("/").unwrap().unwrap().id, MEDIA_ROOT);

    // What exists is not made again.
    emu.emu.reset_request_counts();
    assert_eq!(client.ensure_folder("/a/b/c").unwrap().id, c.id);
    assert_eq!(count(&emu, "POST create-folder"), 0);
    // What is missing is made, parents first.
    let e = client.ensure_folder("/a/b/d/e").unwrap();
    assert_eq!(count(&emu, "POST create-folder"), 2);
    assert_eq!(emu.emu.folder_path(&e.id).as_deref(), Some("/a/b/d/e"));
    assert_eq!(
        client.find_folder("/a/b/d/e").unwrap().map(|f| f.id),
        Some(e.id)
    );

    // A second folder of a name: paths keep naming the oldest, as filePath does.
    let a = client.find_folder("/a").unwrap().unwrap();
    let twin = client.create_folder(MEDIA_ROOT, "a").unwrap();
    assert_ne!(twin.id, a.id);
    assert_eq!(
        client.find_folder("/a").unwrap().map(|f| f.id),
        Some(a.id.clone())
    );
    let again = upload(&emu, &client, "/a/b/c", "again.txt", 10);
    assert_eq!(again.parent_folder_id.as_deref(), Some(c.id.as_str()));

    let b = client.find_folder("/a/b").unwrap().unwrap();
    let mut children: Vec<String> = client
        .list(ListFolders::new().parent_folder_id(&b.id))
        .map(|f| f.unwrap().display_name.unwrap())
        .collect();
    children.sort();
    assert_eq!(children, ["c", "d"]);
    let top: Vec<String> = client
        .list(ListFolders::new())
        .map(|f| f.unwrap().id)
        .collect();
    assert_eq!(top.len(), 2);
    assert!(top.contains(&a.id) && top.contains(&twin.id));
}

#[test]
fn the_trash_keeps_files_until_they_are_deleted_for_good() {
    let emu = Emu::start();
    let client = client(&emu);
    let files: Vec<FileDescriptor> = (0..3)
        .map(|i| upload(&emu, &client, "/bin", &format!("t{i}.txt"), 20 + i))
        .collect();
    let [keep, trash, gone] = [id(&files[0]), id(&files[1]), id(&files[2])];
    let folder = files[0].parent_folder_id.clone().unwrap();
    let listed = |client: &WixClient| -> BTreeSet<String> {
        client
            .list(ListFiles::new().parent_folder_id(&folder))
            .map(|f| id(&f.unwrap()).to_owned())
            .collect()
    };
    let trashed = |client: &WixClient| -> BTreeSet<String> {
        client
            .list(SearchFiles::new().root_folder(RootFolder::Trash))
            .map(|f| id(&f.unwrap()).to_owned())
            .collect()
    };
    client.trash_files(&[trash, gone]).unwrap();
    assert_eq!(listed(&client), BTreeSet::from([keep.to_owned()]));
    assert_eq!(
        trashed(&client),
        BTreeSet::from([trash.to_owned(), gone.to_owned()])
    );
    // Still read by id, marked DELETED; trashing again is no error.
    assert_eq!(
        client.get_file(trash).unwrap().state,
        Some(FileState::Deleted)
    );
    client.trash_files(&[trash]).unwrap();

    client.restore_files(&[trash]).unwrap();
    assert_eq!(
        listed(&client),
        BTreeSet::from([keep.to_owned(), trash.to_owned()])
    );
    assert_eq!(client.get_file(trash).unwrap().state, Some(FileState::Ok));

    client.delete_files_permanently(&[gone]).unwrap();
    assert_eq!(client.get_file(gone).unwrap_err().status(), Some(404));
    assert!(emu.emu.file(gone).is_none());
    assert!(trashed(&client).is_empty());
    // An unknown id changes nothing and is a 404.
    let err = client.trash_files(&[keep, "no-such-file"]).unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert_eq!(client.get_file(keep).unwrap().state, Some(FileState::Ok));
}

#[test]
fn updates_rename_move_and_relabel() {
    let emu = Emu::start();
    let client = client(&emu);
    let file = upload(&emu, &client, "/from", "old.txt", 30);
    let to = client.ensure_folder("/to").unwrap();
    let update = FileUpdate::new(id(&file))
        .display_name("new.txt")
        .parent_folder_id(&to.id)
        .labels(["x", "y"]);
    let updated = client.update_file(&update).unwrap();
    assert_eq!(updated.display_name.as_deref(), Some("new.txt"));
    assert_eq!(updated.parent_folder_id.as_deref(), Some(to.id.as_str()));
    assert_eq!(updated.labels, ["x", "y"]);
    assert_eq!(client.get_file(id(&file)).unwrap(), updated);
    assert_eq!(emu.emu.path_of(id(&file)).as_deref(), Some("/to/new.txt"));
    let moved: Vec<FileDescriptor> = client
        .list(ListFiles::new().parent_folder_id(&to.id))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(moved, [updated]);
    // Only what is given changes: the labels can be cleared alone.
    let cleared = client
        .update_file(&FileUpdate::new(id(&file)).labels(Vec::<String>::new()))
        .unwrap();
    assert!(cleared.labels.is_empty());
    assert_eq!(cleared.display_name.as_deref(), Some("new.txt"));
    let err = client
        .update_file(&FileUpdate::new(id(&file)).parent_folder_id("no-such-folder"))
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
}

#[test]
fn a_download_url_serves_the_bytes() {
    let emu = Emu::start();
    let client = client(&emu);
    let file = upload(&emu, &client, "/dl", "data.txt", 5000);
    let url = client.download_url(id(&file)).unwrap();
    let mut resp = try_send(&agent(), "GET", &url, &[], &[]).expect("download");
    assert_eq!(resp.status(), 200);
    let bytes = resp.body_mut().read_to_vec().unwrap();
    assert_eq!(bytes, pseudo_random_bytes(5000, 5000));
    assert_eq!(count(&emu, "GET download"), 1);
}

#[test]
fn a_new_file_is_missing_from_listings_while_read_by_id() {
    // A lag no test outlives: the file stays unlisted for the whole test.
    let emu = Emu::with(EmulatorConfig::new().list_lag(Duration::from_secs(3600)));
    let client = client(&emu);
    let file = upload(&emu, &client, "/lag", "late.txt", 10);
    assert_eq!(client.get_file(id(&file)).unwrap().id, file.id);
    assert_eq!(client.get_files(&[id(&file)]).unwrap()[0].id, file.id);
    let folder = client
        .find_folder("/lag")
        .unwrap()
        .expect("folders don't lag");
    let listed: Vec<FileDescriptor> = client
        .list(ListFiles::new().parent_folder_id(&folder.id))
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(listed.is_empty(), "{listed:?}");
    let found: Vec<FileDescriptor> = client
        .list(SearchFiles::new())
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn read_errors_are_typed() {
    let emu = Emu::start();
    let client = client(&emu);
    let status = |e: wix_media_upload::Error| (e.status(), e.wix().and_then(|w| w.code));
    let unknown = ListFiles::new().parent_folder_id("no-such-folder");
    let mut items = client.list(unknown);
    let first = items.next().expect("the error");
    assert_eq!(status(first.unwrap_err()).0, Some(404));
    assert!(items.next().is_none(), "the error ends the listing");
    // The largest pages are within what the emulator allows (101 files or 201 found would
    // be refused: emulator/tests/it/listing.rs).
    assert!(client.list(ListFolders::new()).all(|f| f.is_ok()));
    assert!(client.list(SearchFiles::new()).all(|f| f.is_ok()));
    assert_eq!(client.get_folder("nope").unwrap_err().status(), Some(404));
    let err = client.create_folder("nope", "x").unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert_eq!(client.download_url("nope").unwrap_err().status(), Some(404));
}
