//! A Ctrl-C'd single-PATCH upload to the built-in emulator resumes from what the emulator holds
//! (the emulator lives in the interrupted process: what it received must survive that process).

use std::time::Duration;

use super::common::*;
use wix_media_testkit::big_temp_file_with;

#[test]
fn a_ctrl_c_single_patch_upload_resumes_from_what_the_emulator_holds() {
    let home = Home::new();
    // The default: the whole file in one PATCH.
    let r = interrupt_and_resume_on_built_in_emulator(&home, (512 * MIB, 31), &[], 16 * MIB);
    // Exactly where the emulator's bytes ended: nothing it had is sent again.
    assert_eq!(r.resumed_from, r.held, "{}", r.line);
}

#[test]
fn two_processes_on_one_file_make_one_upload_with_the_same_result() {
    let dir = wix_media_testkit::TempDir::new("wmu-two-procs");
    let emu = wix_media_emulator::EmulatorConfig::new()
        .processing_delay(Duration::ZERO)
        .start(dir.path())
        .expect("emulator");
    let home = Home::new();
    for (route, len) in [("simple", 4 * MIB), ("resumable", 48 * MIB)] {
        let (file, digest) = big_temp_file_with(len, 40 + len);
        let args = ["--no-progress", "--route", route, path_str(file.path())];
        let (a, b) = upload_twice_at_once(&home, emu.base_url(), &args);
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
        assert_eq!(wix_media_testkit::digest(&bytes), digest, "{route}");
    }
}
