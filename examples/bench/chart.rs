//! The SVG chart of docs/PERFORMANCE.md, hand-written from the saved numbers of the `batch`
//! and `single` sections: horizontal bars at the median, whiskers from min to max.

use std::fmt::Write as _;

use serde_json::Value;

use crate::common::Opts;

struct Bar {
    label: String,
    med: f64,
    min: f64,
    max: f64,
    ours: bool,
}

struct Panel {
    title: String,
    unit: &'static str,
    bars: Vec<Bar>,
}

const W: f64 = 820.0;
const LABEL_W: f64 = 330.0;
const PLOT_W: f64 = 340.0;
const BAR_H: f64 = 22.0;
const GAP: f64 = 12.0;

fn bar(v: &Value, key: &str, label: &str, ours: bool) -> Option<Bar> {
    let s = &v[key];
    Some(Bar {
        label: label.to_owned(),
        med: s["median"].as_f64()?,
        min: s["min"].as_f64()?,
        max: s["max"].as_f64()?,
        ours,
    })
}

/// The panels, each of a section's saved numbers: the section, which number of each client the
/// bars show and its unit, and the bars (client, label, whether it is ours).
type Shows = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str, bool)],
);

const PANELS: [Shows; 2] = [
    (
        "batch",
        "files_per_s",
        "files/s",
        &[
            ("ours", "wix-media upload --jobs 4", true),
            ("tus-js", "Node: generate + tus-js-client + finalize", false),
        ],
    ),
    (
        "single",
        "wall_s",
        "s",
        &[
            ("curl", "curl: POST, one PATCH -T", false),
            ("ours", "wix-media upload --endpoint (one PATCH)", true),
            ("ours-8m", "wix-media upload --chunk-size 8 MiB", true),
            ("tus-js", "tus-js-client 4.3.1", false),
        ],
    ),
];

/// A panel's title, from its section's saved numbers.
fn title(section: &str, v: &Value) -> String {
    match section {
        "batch" => format!(
            "Batch: {} files of {} KiB, {} at a time, +{} ms each way (files/s, higher is better)",
            v["files"], v["file_kib"], v["jobs"], v["latency_ms_each_way"]
        ),
        _ => format!(
            "{} MiB to @tus/server, all runs of all sets (wall s, lower is better)",
            v["size_mib"]
        ),
    }
}

pub fn write(o: &Opts) {
    let mut panels = Vec::new();
    for (section, stat, unit, bars) in PANELS {
        let Some(v) = o.load(section) else {
            continue;
        };
        let bars = bars
            .iter()
            .filter_map(|&(k, label, ours)| bar(&v["clients"][k], stat, label, ours))
            .collect();
        panels.push(Panel {
            title: title(section, &v),
            unit,
            bars,
        });
    }
    if panels.is_empty() {
        eprintln!("chart: no saved numbers of `batch` or `single` yet");
        return;
    }
    let svg = render(&panels);
    if let Some(dir) = o.chart.parent() {
        std::fs::create_dir_all(dir).expect("chart dir");
    }
    std::fs::write(&o.chart, svg).expect("write chart");
    println!("\nchart written to {}", o.chart.display());
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn render(panels: &[Panel]) -> String {
    let mut body = String::new();
    let mut y = 16.0;
    for p in panels {
        y += 18.0;
        let _ = writeln!(
            body,
            r#"<text x="12" y="{y:.0}" font-weight="bold">{}</text>"#,
            esc(&p.title)
        );
        y += 12.0;
        let top = p.bars.iter().map(|b| b.max.max(b.med)).fold(0.0, f64::max) * 1.08;
        let scale = if top > 0.0 { PLOT_W / top } else { 0.0 };
        for b in &p.bars {
            let (x0, w) = (LABEL_W, b.med * scale);
            let mid = y + BAR_H / 2.0;
            let fill = if b.ours { "#2b6cb0" } else { "#a0aec0" };
            let _ = writeln!(
                body,
                r#"<text x="{:.0}" y="{:.1}" text-anchor="end">{}</text>"#,
                LABEL_W - 8.0,
                mid + 4.0,
                esc(&b.label)
            );
            let _ = writeln!(
                body,
                r#"<rect x="{x0:.1}" y="{y:.1}" width="{w:.1}" height="{BAR_H:.0}" fill="{fill}"/>"#
            );
            let (a, c) = (x0 + b.min * scale, x0 + b.max * scale);
            let _ = writeln!(
                body,
                r##"<path d="M{a:.1} {mid:.1}H{c:.1}M{a:.1} {:.1}V{:.1}M{c:.1} {:.1}V{:.1}" stroke="#1a202c" stroke-width="1.2" fill="none"/>"##,
                mid - 5.0,
                mid + 5.0,
                mid - 5.0,
                mid + 5.0
            );
            let digits = if b.med >= 10.0 { 0 } else { 2 };
            let _ = writeln!(
                body,
                r#"<text x="{:.1}" y="{:.1}">{:.d$} {} ({:.d$}–{:.d$})</text>"#,
                c.max(x0 + w) + 8.0,
                mid + 4.0,
                b.med,
                p.unit,
                b.min,
                b.max,
                d = digits
            );
            y += BAR_H + GAP;
        }
        y += 6.0;
    }
    let h = y + 22.0;
    let _ = writeln!(
        body,
        r##"<text x="12" y="{:.0}" fill="#4a5568" font-size="11">Bars: median of alternating runs; whiskers: min to max. Blue: this crate's wix-media. Written by `bash benches/run.sh`.</text>"##,
        h - 10.0
    );
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W:.0}" height="{h:.0}" viewBox="0 0 {W:.0} {h:.0}" font-family="sans-serif" font-size="13">
<rect width="100%" height="100%" fill="#ffffff"/>
{body}</svg>
"##
    )
}
