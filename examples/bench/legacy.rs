//! Sections kept from the earlier benchmark: `ingest` (the emulator's tus ingest rate against a
//! null sink, both fed by curl) and `parallel` (1 vs 4 connections through the test proxy).

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{
    MIB, Opts, input_file, md5_hex, median, remove_big_files, self_exe, sh, timed,
};

// 1 vs 4 connections to the emulator through the test proxy: 20 ms added per request and each
// connection paced to a fixed rate, as a window-limited stream on a long link is.
pub fn parallel(o: &Opts) {
    use crate::support::proxy::{FaultProxy, ProxyConfig};
    use wix_media_upload::{Source, UploadOptions, Uploader};
    const RATE: u64 = 32 * MIB;
    let runs = o.runs_or(3);
    let input = input_file(
        &o.dir.join(format!("input-{}.bin", o.legacy.parallel_mib)),
        o.legacy.parallel_mib * MIB,
        0,
    );
    let md5 = md5_hex(&input);
    let dir = o.dir.join("emulator-parallel");
    let _ = std::fs::remove_dir_all(&dir);
    let emu = wix_media_emulator::Emulator::start(&dir).expect("emulator");
    let config = ProxyConfig {
        latency: Some(std::time::Duration::from_millis(20)),
        rate_per_connection: Some(RATE),
        ..ProxyConfig::transparent()
    };
    let proxy = FaultProxy::start(emu.addr(), config);
    let creds = wix_media_upload::Credentials::site("bench", "bench").with_api_base(emu.base_url());
    let mut walls: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..runs {
        for (i, n) in [1usize, 4].into_iter().enumerate() {
            let uploader = Uploader::builder().parallel(n).build().expect("uploader");
            let req =
                wix_media_upload::wix::GenerateUploadUrlRequest::new("application/octet-stream");
            let mut target =
                wix_media_upload::wix::generate_resumable_upload_url(&uploader, &creds, &req)
                    .expect("generate");
            target.upload_url = proxy.url_for(&target.upload_url);
            target.file_name = Some("p.bin".into());
            let t = std::time::Instant::now();
            let file = wix_media_upload::wix::upload(
                &uploader,
                &target,
                Source::file(&input).expect("input"),
                UploadOptions::new(),
            )
            .expect("parallel upload")
            .file;
            walls[i].push(t.elapsed().as_secs_f64());
            assert_eq!(
                file.hash.as_deref(),
                Some(md5.as_str()),
                "{n} connections: stored bytes differ"
            );
        }
    }
    let (one, four) = (median(&walls[0]), median(&walls[1]));
    println!(
        "\n# parallel upload, {} MiB to the emulator via the proxy (+20 ms per request, {} MiB/s per connection), medians of {runs} runs",
        o.legacy.parallel_mib,
        RATE / MIB,
    );
    println!("| connections | wall s |\n|---|---|");
    println!("| 1 | {one:.2} |\n| 4 | {four:.2} |");
    println!("speed-up 4 vs 1 = {:.2}x", one / four);
}

// The emulator's tus ingest rate against a null sink on the same HTTP layer, both fed by curl.
pub fn ingest(o: &Opts) {
    let runs = o.runs_or(5);
    let input = input_file(
        &o.dir.join(format!("input-{}.bin", o.single.size_mib)),
        o.single.size_mib * MIB,
        0,
    );
    // Default: next to the input, on disk; `--emulator-dir /dev/shm/x` takes the disk out.
    let dir = o
        .legacy
        .emulator_dir
        .clone()
        .unwrap_or_else(|| o.dir.join("emulator"));
    let _ = std::fs::remove_dir_all(&dir);
    let mut child = Command::new(self_exe())
        .args(["emulator-server", &dir.to_string_lossy()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start emulator");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("emulator base URL");
    let base = line.trim().to_owned();
    let creds = wix_media_upload::Credentials::site("bench", "bench").with_api_base(&base);
    let uploader = wix_media_upload::Uploader::builder()
        .build()
        .expect("uploader");
    let file = input.to_string_lossy();
    let mut null = Vec::new();
    let mut tus = Vec::new();
    for _ in 0..runs {
        let s = timed(
            sh(&format!(
                "curl -s -f -T '{file}' -H 'Expect:' '{base}/null' -o /dev/null"
            )),
            None,
        );
        null.push(s.wall);
        let req = wix_media_upload::wix::GenerateUploadUrlRequest::new("application/octet-stream");
        let target = wix_media_upload::wix::generate_resumable_upload_url(&uploader, &creds, &req)
            .expect("generate");
        let token = base64_encode(target.upload_token.expose().as_bytes());
        let script = format!(
            "loc=$(curl -s -i -X POST '{url}' -H 'Tus-Resumable: 1.0.0' -H \"Upload-Length: $(stat -c %s '{file}')\" \
             -H 'Upload-Metadata: token {token}' | tr -d '\\r' | awk 'tolower($1)==\"location:\"{{print $2}}') && \
             curl -s -f -X PATCH \"$loc\" -H 'Tus-Resumable: 1.0.0' -H 'Content-Type: application/offset+octet-stream' \
             -H 'Upload-Offset: 0' -H 'Expect:' -T '{file}' -o /dev/null",
            url = target.upload_url
        );
        tus.push(timed(sh(&script), None).wall);
        remove_big_files(&dir);
    }
    let pid = child.id();
    let hwm = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .unwrap_or_default();
    drop(child.stdin.take());
    let _ = child.wait();
    let mib = o.single.size_mib as f64;
    let (n, t) = (median(&null), median(&tus));
    println!(
        "\n# emulator ingest, curl client, {mib:.0} MiB, medians of {runs} runs, storage in {}",
        dir.display()
    );
    println!("| sink | wall s | MiB/s |\n|---|---|---|");
    println!(
        "| null sink (same HTTP layer, body discarded) | {n:.2} | {:.0} |",
        mib / n
    );
    println!(
        "| emulator tus PATCH (streamed to its storage dir) | {t:.2} | {:.0} |",
        mib / t
    );
    println!(
        "ingest / raw = {:.2}; emulator peak RSS {}",
        n / t,
        hwm.trim_start_matches("VmHWM:").trim()
    );
}

/// Internal: the emulator in its own process (so its memory is its own), until stdin closes.
pub fn emulator_server(dir: &Path) {
    let emulator = wix_media_emulator::EmulatorConfig::new()
        .null_sink(true)
        .start(dir)
        .expect("emulator");
    println!("{}", emulator.base_url());
    let _ = std::io::stdout().flush();
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
    emulator.stop();
}

/// Internal: a library upload from a non-seekable reader, measured as its own process.
pub fn stream_client(endpoint: &str, path: &Path, chunk: u64) {
    use std::io::Read;
    use wix_media_upload::{Source, UploadOptions, Uploader};
    let file = std::fs::File::open(path).expect("open input");
    let len = file.metadata().expect("stat input").len();
    // `Read` only: the uploader cannot seek it and keeps one chunk in memory.
    let reader = std::io::BufReader::with_capacity(64 * 1024, file).take(len);
    let uploader = Uploader::builder()
        .chunk_size(chunk)
        .build()
        .expect("uploader");
    uploader
        .upload(endpoint, Source::stream(reader, len), UploadOptions::new())
        .expect("stream upload");
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
