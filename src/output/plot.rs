//! The training-loss picture (the book's `trainer.plot()`): loss against words processed, as a
//! hand-written SVG with labelled axes, ticks and grid; `.png` is rendered from that SVG by
//! `rsvg-convert` (librsvg) when it is installed.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};
use crate::output::fsutil::write_atomic;

const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 500.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 60.0;
const BOTTOM: f64 = 70.0;

/// Whether `path` names a PNG (else an SVG); any other extension is refused.
fn is_png(path: &Path) -> Result<bool> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("svg") => Ok(false),
        Some("png") => Ok(true),
        _ => Err(Error::Config(format!(
            "--plot '{}': unknown image type; name it *.svg or *.png",
            path.display()
        ))),
    }
}

/// Checks, before training, that a plot named `path` can be drawn: a known image type, and for
/// `.png` an `rsvg-convert` that runs.
pub fn check_plot(path: &Path) -> Result<()> {
    if is_png(path)? {
        let runs = Command::new("rsvg-convert")
            .arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !runs {
            return Err(no_renderer(path));
        }
    }
    Ok(())
}

fn no_renderer(path: &Path) -> Error {
    Error::Config(format!(
        "--plot '{}': PNG output needs rsvg-convert (Debian/Ubuntu: apt-get install librsvg2-bin); or name the plot *.svg",
        path.display()
    ))
}

/// Draws `points` = (words processed, loss) to `path` (`.svg`, or `.png` through `rsvg-convert`).
pub fn write_loss_plot(path: &Path, points: &[(f64, f64)], title: &str) -> Result<()> {
    let png = is_png(path)?;
    let points: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    if points.is_empty() {
        return Err(Error::Input(format!(
            "cannot draw '{}': no finite loss values to plot",
            path.display()
        )));
    }
    let svg = loss_svg(&points, title);
    if png {
        let bytes = render_png(&svg, path)?;
        write_atomic(path, |w| w.write_all(&bytes))
    } else {
        write_atomic(path, |w| w.write_all(svg.as_bytes()))
    }
}

fn render_png(svg: &str, path: &Path) -> Result<Vec<u8>> {
    let missing = || no_renderer(path);
    let mut child = Command::new("rsvg-convert")
        .args(["--format", "png", "--background-color", "white"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|_| missing())?;
    let mut stdin = child.stdin.take().ok_or_else(missing)?;
    let svg_owned = svg.to_string();
    let feeder = std::thread::spawn(move || stdin.write_all(svg_owned.as_bytes()));
    let out = child
        .wait_with_output()
        .map_err(|e| Error::io("cannot render", path, e))?;
    let fed = feeder
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("SVG writer thread failed")));
    if !out.status.success() || fed.is_err() || out.stdout.is_empty() {
        let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(Error::Config(format!(
            "--plot '{}': rsvg-convert failed ({why}); name the plot *.svg instead",
            path.display()
        )));
    }
    Ok(out.stdout)
}

/// Tick positions covering `[lo, hi]` at a step of 1, 2 or 5 × 10^k, about `target` of them.
fn ticks(lo: f64, hi: f64, target: f64) -> (Vec<f64>, f64) {
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo - pad, hi + pad)
    };
    let raw = (hi - lo) / target;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).floor();
    let last = (hi / step).ceil();
    let ticks = (0..=(last - first) as usize)
        .map(|k| (first + k as f64) * step)
        .collect();
    (ticks, step)
}

/// `1500000` → `1.5M`: words-processed labels stay short.
fn si_label(x: f64, step: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let (scale, suffix) = [(1e9, "G"), (1e6, "M"), (1e3, "k")]
        .into_iter()
        .find(|(s, _)| step >= *s / 10.0)
        .unwrap_or((1.0, ""));
    let v = x / scale;
    let decimals = decimals_for(step / scale);
    format!("{v:.decimals$}{suffix}")
}

/// Enough decimals to tell ticks `step` apart.
fn decimals_for(step: f64) -> usize {
    if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn loss_svg(points: &[(f64, f64)], title: &str) -> String {
    let xmax = points.iter().map(|p| p.0).fold(f64::MIN, f64::max);
    let xmin = points.iter().map(|p| p.0).fold(f64::MAX, f64::min).min(0.0);
    let ymin = points.iter().map(|p| p.1).fold(f64::MAX, f64::min);
    let ymax = points.iter().map(|p| p.1).fold(f64::MIN, f64::max);
    let (xt, xstep) = ticks(xmin, xmax, 6.0);
    let (yt, ystep) = ticks(ymin, ymax, 6.0);
    let (x0, x1) = (xt[0], xt[xt.len() - 1]);
    let (y0, y1) = (yt[0], yt[yt.len() - 1]);
    let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let sx = |x: f64| LEFT + (x - x0) / (x1 - x0) * pw;
    let sy = |y: f64| TOP + ph - (y - y0) / (y1 - y0) * ph;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="32" font-size="20" text-anchor="middle">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    for &x in &xt {
        let px = sx(x);
        let _ = writeln!(
            s,
            r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}" stroke="#e4e4e4"/>"##,
            TOP + ph
        );
        let _ = writeln!(
            s,
            r##"<line x1="{px:.1}" y1="{:.1}" x2="{px:.1}" y2="{:.1}" stroke="#333"/>"##,
            TOP + ph,
            TOP + ph + 6.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{px:.1}" y="{:.1}" font-size="13" text-anchor="middle">{}</text>"#,
            TOP + ph + 22.0,
            si_label(x, xstep)
        );
    }
    let yd = decimals_for(ystep);
    for &y in &yt {
        let py = sy(y);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#e4e4e4"/>"##,
            LEFT + pw
        );
        let _ = writeln!(
            s,
            r##"<line x1="{:.1}" y1="{py:.1}" x2="{LEFT}" y2="{py:.1}" stroke="#333"/>"##,
            LEFT - 6.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="13" text-anchor="end">{y:.yd$}</text>"#,
            LEFT - 10.0,
            py + 4.5
        );
    }
    let _ = writeln!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>"##
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" font-size="15" text-anchor="middle">words processed</text>"#,
        LEFT + pw / 2.0,
        HEIGHT - 18.0
    );
    let _ = writeln!(
        s,
        r#"<text x="22" y="{:.1}" font-size="15" text-anchor="middle" transform="rotate(-90 22 {:.1})">loss (mean BCE per example)</text>"#,
        TOP + ph / 2.0,
        TOP + ph / 2.0
    );
    let path: Vec<String> = points
        .iter()
        .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
        .collect();
    let _ = writeln!(
        s,
        r##"<polyline points="{}" fill="none" stroke="#1f77b4" stroke-width="2" stroke-linejoin="round"/>"##,
        path.join(" ")
    );
    if points.len() <= 60 {
        for &(x, y) in points {
            let _ = writeln!(
                s,
                r##"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="#1f77b4"/>"##,
                sx(x),
                sy(y)
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let (t, step) = ticks(0.0, 17_000_000.0, 6.0);
        assert_eq!(step, 5e6);
        assert_eq!(t, [0.0, 5e6, 10e6, 15e6, 20e6]);
        let (t, step) = ticks(0.231, 0.693, 6.0);
        assert!((step - 0.1).abs() < 1e-12);
        assert!(t[0] <= 0.231 && *t.last().unwrap() >= 0.693 && t.len() == 6);
        let (t, _) = ticks(2.0, 2.0, 6.0);
        assert!(t[0] < 2.0 && *t.last().unwrap() > 2.0);
        assert_eq!(si_label(15e6, 5e6), "15M");
        assert_eq!(si_label(2500.0, 500.0), "2.5k");
        assert_eq!(si_label(7.0, 1.0), "7");
        assert_eq!(si_label(0.0, 1e6), "0");
    }

    #[test]
    fn svg_has_title_axes_labels_and_every_point() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("loss.svg");
        let points: Vec<(f64, f64)> = (0..10)
            .map(|i| (i as f64 * 1e5, 0.69 / (1.0 + i as f64)))
            .collect();
        write_loss_plot(&p, &points, "skip-gram <PTB>").unwrap();
        let svg = std::fs::read_to_string(&p).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("skip-gram &lt;PTB&gt;"));
        assert!(svg.contains("words processed") && svg.contains(">loss"));
        assert!(
            svg.contains(">900k<") || svg.contains(">1.0M<"),
            "x ticks reach the last point"
        );
        assert_eq!(svg.matches("<circle").count(), 10);
    }

    #[test]
    fn png_is_rendered_when_rsvg_convert_is_installed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("loss.png");
        match write_loss_plot(&p, &[(0.0, 0.7), (1e6, 0.4)], "t") {
            Ok(()) => {
                assert!(std::fs::read(&p).unwrap().starts_with(b"\x89PNG\r\n\x1a\n"));
                check_plot(&p).unwrap();
            }
            Err(e) => {
                // The check before training says the same.
                assert_eq!(check_plot(&p).unwrap_err().to_string(), e.to_string());
                assert!(e.to_string().contains("rsvg-convert"), "{e}");
                assert!(!p.exists());
                eprintln!("skipped PNG check: {e}");
            }
        }
    }

    #[test]
    fn bad_requests_are_errors_and_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("loss.svg");
        assert!(write_loss_plot(&p, &[(1.0, f64::NAN)], "t").is_err());
        check_plot(&p).unwrap();
        for bad in ["loss.pdf", "loss"] {
            let e = check_plot(&dir.path().join(bad)).unwrap_err().to_string();
            assert!(e.contains("name it *.svg or *.png"), "{e}");
        }
        assert!(
            write_loss_plot(&dir.path().join("loss.gif"), &[(1.0, 1.0)], "t")
                .unwrap_err()
                .to_string()
                .contains("--plot")
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
