//! Side-by-side upload benchmark: our `upload` CLI against curl (and tus-js-client when Node can
//! load it) on the official tus server, alternating runs, bytes verified after every run.
//!
//! ```text
//! bash benches/run.sh                  # builds, installs what it needs, runs everything
//! target/release/examples/bench --size-mib 512 --runs 5
//! ```
//! Wall time, client CPU (user+sys) and client peak RSS come from `/usr/bin/time`. Not a test:
//! run it by hand on a quiet machine; results go to docs/PERFORMANCE.md.

#[path = "../tests/support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use support::{TusServer, file_digest};

const MIB: u64 = 1024 * 1024;

struct Opts {
    size_mib: u64,
    runs: usize,
    dir: PathBuf,
    clients: Vec<String>,
    rss_sizes: Vec<u64>,
    emulator: bool,
    parallel_mib: u64,
    emulator_dir: Option<PathBuf>,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        // Internal: a library upload from a non-seekable reader, measured as its own process.
        Some("stream-client") => {
            return stream_client(
                &args[2],
                Path::new(&args[3]),
                args[4].parse().unwrap_or(8 * MIB),
            );
        }
        // Internal: the emulator in its own process, so its memory is its own.
        Some("emulator-server") => return emulator_server(Path::new(&args[2])),
        _ => {}
    }
    let mut o = Opts {
        size_mib: 512,
        runs: 5,
        dir: std::env::temp_dir().join("wmu-bench"),
        clients: vec![
            "curl".into(),
            "ours".into(),
            "ours-8m".into(),
            "tus-js".into(),
        ],
        rss_sizes: vec![64, 512, 2048],
        emulator: true,
        parallel_mib: 256,
        emulator_dir: None,
    };
    let mut it = args.into_iter().skip(1);
    while let Some(a) = it.next() {
        let v = it.next().unwrap_or_default();
        match a.as_str() {
            "--size-mib" => o.size_mib = v.parse().expect("--size-mib N"),
            "--runs" => o.runs = v.parse().expect("--runs N"),
            "--dir" => o.dir = v.into(),
            "--clients" => o.clients = v.split(',').map(str::to_owned).collect(),
            "--rss-sizes" => o.rss_sizes = v.split(',').filter_map(|s| s.parse().ok()).collect(),
            "--emulator" => o.emulator = v != "off",
            "--parallel-mib" => o.parallel_mib = v.parse().expect("--parallel-mib N (0: skip)"),
            "--emulator-dir" => o.emulator_dir = Some(v.into()),
            _ => panic!("unknown option {a}"),
        }
    }
    std::fs::create_dir_all(&o.dir).expect("bench dir");
    let upload_bin = wix_media_bin();
    assert!(
        upload_bin.exists(),
        "build it first: cargo build --release --examples --bins --features cli"
    );
    let js = o.clients.iter().any(|c| c == "tus-js") && js_client_ready();
    if !js {
        o.clients.retain(|c| c != "tus-js");
    }

    let server = TusServer::start();
    let input = input_file(&o.dir, o.size_mib * MIB);
    let digest = file_digest(&input);
    println!(
        "# {} MiB, {} runs per client, server @tus/server at {}",
        o.size_mib,
        o.runs,
        server.endpoint()
    );
    let mut results: Vec<(String, Vec<Sample>)> =
        o.clients.iter().map(|c| (c.clone(), Vec::new())).collect();
    for run in 0..o.runs {
        for (client, samples) in results.iter_mut() {
            let s = run_client(client, &server, &input, &upload_bin, &o.dir);
            verify(&server, digest, client);
            eprintln!(
                "run {run} {client}: {:.2} s wall, {:.2} s cpu, {} KiB rss",
                s.wall, s.cpu, s.rss_kib
            );
            samples.push(s);
        }
    }
    print_table(&results);

    println!("\n# peak RSS of our single-PATCH upload by file size");
    println!("| file | wall s | peak RSS MiB |\n|---|---|---|");
    for mib in &o.rss_sizes {
        let f = input_file(&o.dir, mib * MIB);
        let s = run_client("ours", &server, &f, &upload_bin, &o.dir);
        verify(&server, file_digest(&f), "ours");
        println!(
            "| {mib} MiB | {:.2} | {:.1} |",
            s.wall,
            s.rss_kib as f64 / 1024.0
        );
    }
    let s = run_client("ours-stream", &server, &input, &upload_bin, &o.dir);
    verify(&server, digest, "ours-stream");
    println!(
        "| {} MiB, non-seekable stream, 8 MiB chunks | {:.2} | {:.1} |",
        o.size_mib,
        s.wall,
        s.rss_kib as f64 / 1024.0
    );
    drop(server);
    if o.emulator {
        emulator_ingest(&o, &input);
    }
    if o.parallel_mib > 0 {
        parallel_speedup(&o);
    }
}

// 1 vs 4 connections to the emulator through the test proxy: 20 ms added per request and each
// connection paced to a fixed rate, as a window-limited stream on a long link is.
fn parallel_speedup(o: &Opts) {
    use support::proxy::{FaultProxy, ProxyConfig};
    use wix_media_upload::{Source, UploadOptions, Uploader};
    const RATE: u64 = 32 * MIB;
    let input = input_file(&o.dir, o.parallel_mib * MIB);
    let md5 = md5_hex(&input);
    let dir = o.dir.join("emulator-parallel");
    let _ = std::fs::remove_dir_all(&dir);
    let emu = wix_media_upload::emulator::Emulator::start(&dir).expect("emulator");
    let config = ProxyConfig {
        latency: Some(std::time::Duration::from_millis(20)),
        rate_per_connection: Some(RATE),
        ..ProxyConfig::transparent()
    };
    let proxy = FaultProxy::start(emu.addr(), config);
    let creds = wix_media_upload::Credentials::site("bench", "bench").with_api_base(emu.base_url());
    let mut walls: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..o.runs.min(3) {
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
    let (one, four) = (median(walls[0].clone()), median(walls[1].clone()));
    println!(
        "\n# parallel upload, {} MiB to the emulator via the proxy (+20 ms per request, {} MiB/s per connection), medians of {} runs",
        o.parallel_mib,
        RATE / MIB,
        walls[0].len()
    );
    println!("| connections | wall s |\n|---|---|");
    println!("| 1 | {one:.2} |\n| 4 | {four:.2} |");
    println!("speed-up 4 vs 1 = {:.2}x", one / four);
}

fn md5_hex(path: &Path) -> String {
    use md5::Digest as _;
    let mut f = std::fs::File::open(path).expect("open");
    let mut h = md5::Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

// The emulator's tus ingest rate against a null sink on the same HTTP layer, both fed by curl.
fn emulator_ingest(o: &Opts, input: &Path) {
    use std::io::BufRead;
    // Default: next to the input, on disk; `--emulator-dir /dev/shm/x` takes the disk out.
    let dir = o
        .emulator_dir
        .clone()
        .unwrap_or_else(|| o.dir.join("emulator"));
    let _ = std::fs::remove_dir_all(&dir);
    let mut child = Command::new(std::env::current_exe().expect("exe"))
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
    let uploader = wix_media_upload::Uploader::new().expect("uploader");
    let file = input.to_string_lossy();
    let mut null = Vec::new();
    let mut tus = Vec::new();
    for _ in 0..o.runs {
        let s = timed(&sh(&format!(
            "curl -s -f -T '{file}' -H 'Expect:' '{base}/null' -o /dev/null"
        )));
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
        tus.push(timed(&sh(&script)).wall);
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
    let mib = std::fs::metadata(input).map(|m| m.len()).unwrap_or(0) as f64 / MIB as f64;
    let (n, t) = (median(null), median(tus));
    println!(
        "\n# emulator ingest, curl client, {mib:.0} MiB, medians of {} runs, storage in {}",
        o.runs,
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

// Uploaded bodies pile up otherwise (and their dirty pages slow the next run down).
fn remove_big_files(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        match entry.metadata() {
            Ok(m) if m.is_dir() => remove_big_files(&path),
            Ok(m) if m.len() > MIB => {
                let _ = std::fs::remove_file(&path);
            }
            _ => {}
        }
    }
}

fn emulator_server(dir: &Path) {
    let emulator = wix_media_upload::emulator::EmulatorConfig::new()
        .null_sink(true)
        .start(dir)
        .expect("emulator");
    println!("{}", emulator.base_url());
    let _ = std::io::stdout().flush();
    // Runs until stdin closes.
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
    emulator.stop();
}

fn sh(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.to_owned()]
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[derive(Clone, Copy)]
struct Sample {
    wall: f64,
    cpu: f64,
    rss_kib: u64,
}

// The CLI is target/<profile>/wix-media, next to this benchmark's target/<profile>/examples.
fn wix_media_bin() -> PathBuf {
    let me = std::env::current_exe().expect("current exe");
    let profile = me
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    profile.join(format!("wix-media{}", std::env::consts::EXE_SUFFIX))
}

fn input_file(dir: &Path, len: u64) -> PathBuf {
    let path = dir.join(format!("input-{}.bin", len / MIB));
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == len) {
        return path;
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create input"));
    let mut rng = support::XorShift::new(len ^ 0x5eed);
    let mut buf = vec![0u8; MIB as usize];
    let mut left = len;
    while left > 0 {
        rng.fill(&mut buf);
        let n = left.min(MIB) as usize;
        f.write_all(&buf[..n]).expect("write input");
        left -= n as u64;
    }
    f.flush().expect("flush input");
    path
}

fn run_client(
    client: &str,
    server: &TusServer,
    input: &Path,
    upload_bin: &Path,
    dir: &Path,
) -> Sample {
    for id in server.uploads() {
        let _ = std::fs::remove_file(server.stored_path(&id));
        let _ = std::fs::remove_file(server.dir().join(format!("{id}.json")));
    }
    let state = dir.join("state");
    let _ = std::fs::remove_dir_all(&state);
    let endpoint = server.endpoint();
    let file = input.to_string_lossy().into_owned();
    let cmd: Vec<String> = match client {
        "curl" => {
            let script = format!(
                "loc=$(curl -s -i -X POST '{endpoint}' -H 'Tus-Resumable: 1.0.0' -H \"Upload-Length: $(stat -c %s '{file}')\" \
                 | tr -d '\\r' | awk 'tolower($1)==\"location:\"{{print $2}}') && \
                 curl -s -f -X PATCH \"$loc\" -H 'Tus-Resumable: 1.0.0' -H 'Content-Type: application/offset+octet-stream' \
                 -H 'Upload-Offset: 0' -H 'Expect:' -T '{file}' -o /dev/null"
            );
            vec!["sh".into(), "-c".into(), script]
        }
        "ours" | "ours-8m" => {
            let mut v = vec![
                upload_bin.to_string_lossy().into_owned(),
                "upload".into(),
                "--no-progress".into(),
                "--state-dir".into(),
                state.to_string_lossy().into_owned(),
                "--endpoint".into(),
                endpoint,
            ];
            if client == "ours-8m" {
                v.extend(["--chunk-size".into(), (8 * MIB).to_string()]);
            }
            v.push(file);
            v
        }
        "ours-stream" => vec![
            std::env::current_exe()
                .expect("exe")
                .to_string_lossy()
                .into_owned(),
            "stream-client".into(),
            endpoint,
            file,
            (8 * MIB).to_string(),
        ],
        "tus-js" => vec![
            "node".into(),
            js_dir().join("upload.js").to_string_lossy().into_owned(),
            endpoint,
            file,
        ],
        other => panic!("unknown client {other}"),
    };
    timed(&cmd)
}

// Runs `cmd` under /usr/bin/time: wall, user+sys of it and its children, and their peak RSS.
fn timed(cmd: &[String]) -> Sample {
    let out_file = std::env::temp_dir().join(format!("wmu-bench-time-{}", std::process::id()));
    let status = Command::new("/usr/bin/time")
        .args(["-f", "%e %U %S %M", "-o"])
        .arg(&out_file)
        .args(cmd)
        .stdout(Stdio::null())
        .status()
        .expect("run /usr/bin/time (apt-get install time)");
    assert!(status.success(), "{cmd:?} failed: {status}");
    let mut text = String::new();
    std::fs::File::open(&out_file)
        .and_then(|mut f| f.read_to_string(&mut text))
        .expect("time output");
    let v: Vec<f64> = text
        .lines()
        .last()
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    assert_eq!(v.len(), 4, "unexpected /usr/bin/time output {text:?}");
    Sample {
        wall: v[0],
        cpu: v[1] + v[2],
        rss_kib: v[3] as u64,
    }
}

fn verify(server: &TusServer, digest: u64, client: &str) {
    let ids = server.uploads();
    assert_eq!(ids.len(), 1, "{client}: expected one upload, found {ids:?}");
    let got = file_digest(server.stored_path(&ids[0]));
    assert_eq!(got, digest, "{client}: stored bytes differ from the input");
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn print_table(results: &[(String, Vec<Sample>)]) {
    let stat = |s: &[Sample], f: fn(&Sample) -> f64| {
        let v: Vec<f64> = s.iter().map(f).collect();
        let (lo, hi) = v
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(*x), b.max(*x)));
        (median(v), lo, hi)
    };
    let curl = results
        .iter()
        .find(|(c, _)| c == "curl")
        .map(|(_, s)| s.clone());
    let base = curl
        .as_deref()
        .map(|s| (stat(s, |x| x.wall).0, stat(s, |x| x.cpu).0));
    println!(
        "\n| client | wall s median (min–max) | CPU s median (min–max) | peak RSS MiB median | wall / curl | CPU / curl |"
    );
    println!("|---|---|---|---|---|---|");
    for (client, s) in results {
        let (w, wl, wh) = stat(s, |x| x.wall);
        let (c, cl, ch) = stat(s, |x| x.cpu);
        let (r, _, _) = stat(s, |x| x.rss_kib as f64 / 1024.0);
        let (rw, rc) = base.map_or((f64::NAN, f64::NAN), |(bw, bc)| (w / bw, c / bc));
        println!(
            "| {client} | {w:.2} ({wl:.2}–{wh:.2}) | {c:.2} ({cl:.2}–{ch:.2}) | {r:.1} | {rw:.2} | {rc:.2} |"
        );
    }
}

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches")
        .join("js")
}

fn js_client_ready() -> bool {
    let dir = js_dir();
    if dir.join("node_modules").join("tus-js-client").exists() {
        return true;
    }
    let ok = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("tus-js-client not installable: skipping it");
    }
    ok
}

fn stream_client(endpoint: &str, path: &Path, chunk: u64) {
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
