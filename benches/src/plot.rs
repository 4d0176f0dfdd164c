//! `--plot FILE.svg|FILE.png`: latency against size (left) and bandwidth against size
//! (right), one line per backend/provider and op, log axes with units. Drawn from the same
//! JSON rows `--json` writes; error rows and single-size ops (atomics, barrier) are left out.

use plotters::prelude::*;
use serde_json::Value;
use std::collections::BTreeMap;

/// Fonts looked for, in order: text needs one (Debian/Ubuntu: fonts-dejavu-core).
const FONTS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

type Series = BTreeMap<String, Vec<(f64, f64)>>;

/// Lines per panel: "backend provider op" -> (bytes, value), for ops measured at more than
/// one size. Latency in microseconds, bandwidth in MB/s.
fn series(rows: &[Value]) -> (Series, Series) {
    let (mut lat, mut bw) = (Series::new(), Series::new());
    for r in rows.iter().filter(|r| r.get("error").is_none()) {
        let (Some(op), Some(bytes)) = (r["op"].as_str(), r["bytes"].as_f64()) else { continue };
        let name = format!(
            "{} {} {op}",
            r["backend"].as_str().unwrap_or("?"),
            r["provider"].as_str().unwrap_or("?")
        );
        let (panel, value) = match r["kind"].as_str() {
            Some("bandwidth") => (&mut bw, r["mb_per_s"].as_f64()),
            Some("latency") => (&mut lat, r["median_ns"].as_f64().map(|ns| ns / 1e3)),
            _ => continue, // kernels: a rate, not a function of size
        };
        if let Some(v) = value.filter(|v| *v > 0.0 && bytes > 0.0) {
            panel.entry(name).or_default().push((bytes, v));
        }
    }
    for s in [&mut lat, &mut bw] {
        s.retain(|_, pts| pts.len() > 1);
        s.values_mut().for_each(|pts| pts.sort_by(|a, b| a.0.total_cmp(&b.0)));
    }
    (lat, bw)
}

fn register_font() -> Result<(), String> {
    let path = FONTS.iter().find(|p| std::path::Path::new(p).exists()).ok_or_else(|| {
        format!(
            "no font to draw text with (looked for {}): install fonts-dejavu-core",
            FONTS.join(", ")
        )
    })?;
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    // plotters keeps the font for the life of the program.
    plotters::style::register_font(
        "sans-serif",
        FontStyle::Normal,
        Box::leak(bytes.into_boxed_slice()),
    )
    .map_err(|_| format!("{path}: not a font plotters can read"))
}

pub fn write(path: &str, rows: &[Value]) -> Result<(), String> {
    let (lat, bw) = series(rows);
    if lat.is_empty() && bw.is_empty() {
        return Err("nothing to plot: no op was measured at more than one size".into());
    }
    register_font()?;
    let size = (1400, 600);
    let e = |e: String| e;
    if path.to_ascii_lowercase().ends_with(".png") {
        let root = BitMapBackend::new(path, size).into_drawing_area();
        draw(&root, &lat, &bw).map_err(e)?;
        root.present().map_err(|x| x.to_string())
    } else {
        let root = SVGBackend::new(path, size).into_drawing_area();
        draw(&root, &lat, &bw).map_err(e)?;
        root.present().map_err(|x| x.to_string())
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    lat: &Series,
    bw: &Series,
) -> Result<(), String> {
    let err = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    root.fill(&WHITE).map_err(err)?;
    let panels = root.split_evenly((1, 2));
    panel(&panels[0], "Latency", "latency (µs)", lat).map_err(err)?;
    panel(&panels[1], "Bandwidth", "bandwidth (MB/s)", bw).map_err(err)
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    y_label: &str,
    lines: &Series,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    if lines.is_empty() {
        return area
            .titled(&format!("{title}: nothing measured at more than one size"), ("sans-serif", 18))
            .map(drop);
    }
    let pts = lines.values().flatten();
    let (x0, x1) = pts.clone().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (y0, y1) = pts.fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d((x0 / 1.5..x1 * 1.5).log_scale(), (y0 / 2.0..y1 * 2.0).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("message size (bytes)")
        .y_desc(y_label)
        .x_label_formatter(&|x| human_bytes(*x))
        .y_label_formatter(&|y| format!("{y}"))
        .draw()?;
    for (i, (name, pts)) in lines.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)).point_size(3))?
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
}

fn human_bytes(x: f64) -> String {
    let x = x.round() as u64;
    match x {
        x if x >= 1 << 30 && x % (1 << 30) == 0 => format!("{}G", x >> 30),
        x if x >= 1 << 20 && x % (1 << 20) == 0 => format!("{}M", x >> 20),
        x if x >= 1 << 10 && x % (1 << 10) == 0 => format!("{}K", x >> 10),
        x => x.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(op: &str, kind: &str, bytes: u64, ns: f64) -> Value {
        serde_json::json!({"backend": "shmem", "provider": "posix-shm", "op": op, "kind": kind, "bytes": bytes,
                           "median_ns": ns, "mb_per_s": bytes as f64 * 1e3 / ns})
    }

    #[test]
    fn lines_per_op_with_more_than_one_size() {
        let rows = vec![
            row("put", "latency", 8, 100.0),
            row("put", "latency", 1024, 200.0),
            row("fetch_add", "latency", 8, 50.0),
            row("put_nb", "bandwidth", 8, 10.0),
            row("put_nb", "bandwidth", 1024, 20.0),
            serde_json::json!({"backend": "rofi", "provider": "verbs", "error": "no such provider"}),
        ];
        let (lat, bw) = series(&rows);
        assert_eq!(lat.keys().collect::<Vec<_>>(), ["shmem posix-shm put"]);
        assert_eq!(lat["shmem posix-shm put"], [(8.0, 0.1), (1024.0, 0.2)]);
        assert_eq!(bw["shmem posix-shm put_nb"][1], (1024.0, 51200.0));
    }

    #[test]
    fn writes_svg_and_png_with_axes_in_units() {
        let dir = tempfile::tempdir().unwrap();
        let rows: Vec<Value> = [8u64, 64, 4096]
            .iter()
            .flat_map(|&b| {
                [row("get", "latency", b, 100.0 + b as f64), row("get_nb", "bandwidth", b, 50.0)]
            })
            .collect();
        let svg = dir.path().join("p.svg");
        write(svg.to_str().unwrap(), &rows).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        for want in [
            "latency (µs)",
            "bandwidth (MB/s)",
            "message size (bytes)",
            "shmem posix-shm get",
            "shmem posix-shm get_nb",
        ] {
            assert!(text.contains(want), "{want} missing from the SVG");
        }
        let png = dir.path().join("p.png");
        write(png.to_str().unwrap(), &rows).unwrap();
        assert_eq!(&std::fs::read(&png).unwrap()[..4], b"\x89PNG");
        assert!(write(svg.to_str().unwrap(), &rows[..1]).unwrap_err().contains("nothing to plot"));
    }
}
