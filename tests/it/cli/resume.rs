//! A Ctrl-C'd single-PATCH upload to the built-in emulator resumes from what the emulator holds
//! (the emulator lives in the interrupted process: what it received must survive that process).

use std::time::Duration;

use super::common::*;
use crate::support;
use crate::support::{big_temp_file_with, file_digest};
use wix_media_upload::emulator::Emulator;

#[test]
fn a_ctrl_c_single_patch_upload_resumes_from_what_the_emulator_holds() {
    let home = Home::new();
    let (file, digest) = big_temp_file_with(512 * MIB, 31);
    // The default: the whole file in one PATCH.
    let args = [
        "--no-progress",
        "--route",
        "resumable",
        path_str(file.path()),
    ];
    let Some(_) = interrupted_once_stored(&home, home.upload(&args), 16 * MIB) else {
        return;
    };
    let held = emulator_stored(&home);
    assert!(held > 16 * MIB && held < 512 * MIB, "{held}");

    let out = run(home.upload(&args));
    out.assert_success();
    let v = out.json();
    // Exactly where the emulator's bytes ended: nothing it had is sent again.
    assert_eq!(v["resumedFrom"].as_u64(), Some(held), "{v}");
    let emu = Emulator::start(home.state.join("emulator")).expect("reopen");
    assert_eq!(emu.uploads().len(), 1, "one tus upload, resumed");
    let bytes = emu.stored_path(&emu.uploads()[0].url).expect("bytes");
    assert_eq!(file_digest(bytes), digest);
}

#[test]
fn two_processes_on_one_file_make_one_upload_with_the_same_result() {
    let dir = support::TempDir::new("wmu-two-procs");
    let emu = wix_media_upload::emulator::EmulatorConfig::new()
        .processing_delay(Duration::ZERO)
        .start(dir.path())
        .expect("emulator");
    let home = Home::new();
    for (route, len) in [("simple", 4 * MIB), ("resumable", 48 * MIB)] {
        let (file, digest) = big_temp_file_with(len, 40 + len);
        let spawn = || {
            let mut cmd = home.upload(&["--no-progress", "--route", route, path_str(file.path())]);
            with_wix(&mut cmd, emu.base_url());
            cmd.spawn().expect("spawn")
        };
        let (a, b) = (spawn(), spawn());
        let (a, b) = (collect(a, RUN_TIMEOUT), collect(b, RUN_TIMEOUT));
        a.assert_success();
        b.assert_success();
        let (la, lb) = (a.json(), b.json());
        let id = la["file"]["id"].as_str().expect("an id").to_owned();
        assert_eq!(
            lb["file"]["id"].as_str(),
            Some(id.as_str()),
            "{route}: {la} / {lb}"
        );
        let made: Vec<_> = emu
            .files()
            .into_iter()
            .filter(|f| f["sizeInBytes"].as_str() == Some(len.to_string().as_str()))
            .collect();
        assert_eq!(made.len(), 1, "{route}: {made:?}");
        let bytes = emu.file_bytes(&id).expect("bytes");
        assert_eq!(support::digest(&bytes), digest, "{route}");
    }
}
