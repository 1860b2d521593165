//! Section `single`: one large file to the official tus server (`@tus/server`), curl (POST, then
//! one `PATCH -T` with `Expect:` disabled) against `wix-media upload --endpoint` with default
//! settings (one PATCH; `Expect: 100-continue` on the first body over 1 MiB) and with 8 MiB
//! chunks (and tus-js-client when asked), alternating, in several sets: the server's speed
//! wanders between sets, so each set's ratio is reported as well as their median. Bytes are
//! checked after every run.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::common::{
    MIB, Opts, Sample, Stat, input_file, js_client_ready, js_dir, self_exe, sh, show_list, timed,
    wix_media_bin,
};
use crate::support::{TusServer, file_digest};

pub fn run(o: &Opts) {
    let runs = o.runs_or(9);
    let sets = o.single.sets.max(1);
    let mut clients = o.single.clients.clone();
    if clients.iter().any(|c| c == "tus-js") && !js_client_ready() {
        clients.retain(|c| c != "tus-js");
    }
    let server = TusServer::start();
    let input = input_file(
        &o.dir.join(format!("input-{}.bin", o.single.size_mib)),
        o.single.size_mib * MIB,
        0,
    );
    let digest = file_digest(&input);
    println!(
        "\n# single file: {} MiB to @tus/server 2.4.5 at {}, {sets} sets of {runs} alternating runs per client",
        o.single.size_mib,
        server.endpoint()
    );
    // samples[set][client]
    let mut samples: Vec<Vec<Vec<Sample>>> = Vec::new();
    let mut loads = Vec::new();
    for set in 0..sets {
        let mut per: Vec<Vec<Sample>> = vec![Vec::new(); clients.len()];
        for run in 0..runs {
            // Rotate who goes first, so no client always follows the same one.
            for k in 0..clients.len() {
                let i = (k + run) % clients.len();
                let s = run_client(&clients[i], &server, &input, &o.dir);
                verify(&server, digest, &clients[i]);
                eprintln!(
                    "set {set} run {run} {}: {:.2} s wall, {:.2} s cpu, {:.1} MiB rss",
                    clients[i],
                    s.wall,
                    s.cpu,
                    s.rss_mib()
                );
                per[i].push(s);
            }
        }
        loads.push(crate::common::loadavg());
        samples.push(per);
    }
    let idx = |name: &str| clients.iter().position(|c| c == name);
    let med = |set: &[Vec<Sample>], i: usize, f: fn(&Sample) -> f64| {
        Stat::of(&set[i].iter().map(f).collect::<Vec<_>>()).med
    };

    // Per set.
    let (curl, ours, ours8) = (idx("curl"), idx("ours"), idx("ours-8m"));
    let mut set_rows = Vec::new();
    if let (Some(c), Some(u)) = (curl, ours) {
        println!(
            "\n| set | curl s | ours s | ours / curl | ours-8m s | ours-8m / ours | our CPU / curl's | our peak RSS MiB | load avg |"
        );
        println!("|---|---|---|---|---|---|---|---|---|");
        for (k, set) in samples.iter().enumerate() {
            let (cw, uw) = (med(set, c, |s| s.wall), med(set, u, |s| s.wall));
            let u8w = ours8.map(|i| med(set, i, |s| s.wall));
            let cpu = med(set, u, |s| s.cpu) / med(set, c, |s| s.cpu);
            let rss = set[u].iter().map(Sample::rss_mib).fold(0.0f64, f64::max);
            println!(
                "| {} | {cw:.2} | {uw:.2} | {:.3} | {} | {} | {cpu:.2} | {rss:.1} (max) | {:.1} |",
                k + 1,
                uw / cw,
                u8w.map_or("-".into(), |x| format!("{x:.2}")),
                u8w.map_or("-".into(), |x| format!("{:.2}", x / uw)),
                loads[k]
            );
            set_rows.push(json!({
                "curl_s": cw, "ours_s": uw, "ratio": uw / cw,
                "ours_8m_s": u8w, "ours_8m_over_ours": u8w.map(|x| x / uw),
                "cpu_ratio": cpu, "ours_rss_max_mib": rss, "loadavg": loads[k],
            }));
        }
        let ratios: Vec<f64> = set_rows
            .iter()
            .filter_map(|r| r["ratio"].as_f64())
            .collect();
        let chunked: Vec<f64> = set_rows
            .iter()
            .filter_map(|r| r["ours_8m_over_ours"].as_f64())
            .collect();
        let met = ratios.iter().filter(|r| **r <= 1.05).count();
        println!(
            "\nours / curl per set: {}; median {:.3}; ≤ 1.05 in {met} of {} sets",
            show_list(&ratios, 3),
            crate::common::median(&ratios),
            ratios.len()
        );
        if !chunked.is_empty() {
            println!(
                "ours-8m / ours per set: {}; median {:.2}",
                show_list(&chunked, 2),
                crate::common::median(&chunked)
            );
        }
    }

    // All runs of all sets.
    let pooled: Vec<Vec<Sample>> = (0..clients.len())
        .map(|i| samples.iter().flat_map(|s| s[i].clone()).collect())
        .collect();
    let base = curl.map(|c| {
        (
            Stat::of(&pooled[c].iter().map(|s| s.wall).collect::<Vec<_>>()).med,
            Stat::of(&pooled[c].iter().map(|s| s.cpu).collect::<Vec<_>>()).med,
        )
    });
    println!(
        "\n| client | wall s median (min–max) | CPU s median (min–max) | peak RSS MiB median (max) | wall / curl | CPU / curl |"
    );
    println!("|---|---|---|---|---|---|");
    let mut json_clients = serde_json::Map::new();
    for (i, name) in clients.iter().enumerate() {
        let w = Stat::of(&pooled[i].iter().map(|s| s.wall).collect::<Vec<_>>());
        let c = Stat::of(&pooled[i].iter().map(|s| s.cpu).collect::<Vec<_>>());
        let r = Stat::of(&pooled[i].iter().map(Sample::rss_mib).collect::<Vec<_>>());
        let (rw, rc) = base.map_or((f64::NAN, f64::NAN), |(bw, bc)| (w.med / bw, c.med / bc));
        println!(
            "| {} | {w} | {c} | {:.1} ({:.1}) | {rw:.3} | {rc:.2} |",
            label(name),
            r.med,
            r.max
        );
        json_clients.insert(
            name.clone(),
            json!({"label": label(name), "wall_s": w.json(), "cpu_s": c.json(), "rss_mib": r.json()}),
        );
    }

    let mut rss_rows = Vec::new();
    if !o.single.rss_sizes.is_empty() {
        println!("\n# peak RSS of `wix-media upload --endpoint` (one PATCH) by file size");
        println!("| file | wall s | peak RSS MiB |\n|---|---|---|");
        for mib in &o.single.rss_sizes {
            let f = input_file(&o.dir.join(format!("input-{mib}.bin")), mib * MIB, 0);
            let s = run_client("ours", &server, &f, &o.dir);
            verify(&server, file_digest(&f), "ours");
            println!("| {mib} MiB | {:.2} | {:.1} |", s.wall, s.rss_mib());
            rss_rows.push(json!({"mib": mib, "wall_s": s.wall, "rss_mib": s.rss_mib()}));
        }
        let s = run_client("ours-stream", &server, &input, &o.dir);
        verify(&server, digest, "ours-stream");
        println!(
            "| {} MiB, non-seekable `Read`, 8 MiB chunks | {:.2} | {:.1} |",
            o.single.size_mib,
            s.wall,
            s.rss_mib()
        );
    }
    o.save(
        "single",
        &json!({
            "machine": crate::common::machine(),
            "size_mib": o.single.size_mib,
            "runs_per_set": runs,
            "sets": set_rows,
            "clients": json_clients,
            "rss_by_size": rss_rows,
        }),
    );
}

pub fn label(client: &str) -> &'static str {
    match client {
        "curl" => "curl (POST, then one `PATCH -T`, `Expect:` off)",
        "ours" => "wix-media upload --endpoint (one PATCH, defaults)",
        "ours-8m" => "wix-media upload --endpoint --chunk-size 8388608",
        "tus-js" => "tus-js-client 4.3.1 (defaults: one PATCH)",
        "lib" => "library `Uploader::upload` (one PATCH, Expect on)",
        "lib-noexpect" => "library `Uploader::upload` (one PATCH, `expect_continue(false)`)",
        _ => "?",
    }
}

/// Uploads `input` with `client` to a fresh server state (its earlier uploads removed).
pub fn run_client(client: &str, server: &TusServer, input: &Path, dir: &Path) -> Sample {
    clear(server);
    let state = dir.join("state");
    let _ = std::fs::remove_dir_all(&state);
    let endpoint = server.endpoint();
    let file = input.to_string_lossy().into_owned();
    let cmd = match client {
        "curl" => sh(&format!(
            "loc=$(curl -s -i -X POST '{endpoint}' -H 'Tus-Resumable: 1.0.0' -H \"Upload-Length: $(stat -c %s '{file}')\" \
             | tr -d '\\r' | awk 'tolower($1)==\"location:\"{{print $2}}') && \
             curl -s -f -X PATCH \"$loc\" -H 'Tus-Resumable: 1.0.0' -H 'Content-Type: application/offset+octet-stream' \
             -H 'Upload-Offset: 0' -H 'Expect:' -T '{file}' -o /dev/null"
        )),
        "ours" | "ours-8m" => {
            let mut c = Command::new(wix_media_bin());
            c.args(["upload", "--no-progress", "--state-dir"])
                .arg(&state)
                .args(["--endpoint", &endpoint]);
            if client == "ours-8m" {
                c.args(["--chunk-size", &(8 * MIB).to_string()]);
            }
            c.arg(&file);
            c
        }
        // The library alone (no CLI around it), Expect on or off.
        "lib" | "lib-noexpect" => {
            let mut c = Command::new(self_exe());
            c.args(["lib-upload", &endpoint, &file])
                .arg(if client == "lib" { "on" } else { "off" });
            c
        }
        "ours-stream" => {
            let mut c = Command::new(self_exe());
            c.args(["stream-client", &endpoint, &file, &(8 * MIB).to_string()]);
            c
        }
        "tus-js" => {
            let mut c = Command::new("node");
            c.arg(js_dir().join("upload.js")).args([&endpoint, &file]);
            c
        }
        other => panic!("unknown client {other}"),
    };
    timed(cmd, None)
}

/// Removes every upload the server holds.
pub fn clear(server: &TusServer) {
    for id in server.uploads() {
        let _ = std::fs::remove_file(server.stored_path(&id));
        let _ = std::fs::remove_file(server.dir().join(format!("{id}.json")));
    }
}

/// The server holds exactly one upload, with the input's bytes.
pub fn verify(server: &TusServer, digest: u64, client: &str) {
    let ids = server.uploads();
    assert_eq!(ids.len(), 1, "{client}: expected one upload, found {ids:?}");
    let got = file_digest(server.stored_path(&ids[0]));
    assert_eq!(got, digest, "{client}: stored bytes differ from the input");
}
