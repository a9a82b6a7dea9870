//! The training-loss picture (the book's `trainer.plot()`): loss against words processed, with
//! the learning rate on a second axis and the epoch boundaries marked, drawn as SVG; `.png` is
//! that SVG rendered in-process by resvg with a font built into the binary (no system fonts or
//! programs needed).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use resvg::{tiny_skia, usvg};

use crate::error::{Error, Result};
use crate::output::fsutil::write_atomic;

const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 500.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 90.0;
const TOP: f64 = 60.0;
const BOTTOM: f64 = 70.0;
const LOSS_COLOUR: &str = "#1f77b4";
const LR_COLOUR: &str = "#e07b00";

/// One batch's point: words processed so far, its loss and its learning rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlotPoint {
    pub words: f64,
    pub loss: f64,
    pub lr: f64,
}

/// What the plot shows: the batches' points and the words processed at each epoch's end.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LossCurve {
    pub points: Vec<PlotPoint>,
    pub epoch_ends: Vec<f64>,
}

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

/// Checks, before training, that a plot named `path` can be drawn: a known image type.
pub fn check_plot(path: &Path) -> Result<()> {
    is_png(path).map(|_| ())
}

/// Draws `curve` to `path` (`.svg`, or `.png`) under `title`.
pub fn write_loss_plot(path: &Path, curve: &LossCurve, title: &str) -> Result<()> {
    let png = is_png(path)?;
    let points: Vec<PlotPoint> = curve
        .points
        .iter()
        .copied()
        .filter(|p| p.words.is_finite() && p.loss.is_finite())
        .collect();
    if points.is_empty() {
        return Err(Error::Input(format!(
            "cannot draw '{}': no finite loss values to plot",
            path.display()
        )));
    }
    let svg = loss_svg(&points, &curve.epoch_ends, title);
    if png {
        let bytes = render_png(&svg).map_err(|why| {
            Error::Config(format!(
                "--plot '{}': cannot render the PNG ({why}); name the plot *.svg instead",
                path.display()
            ))
        })?;
        write_atomic(path, |w| w.write_all(&bytes))
    } else {
        write_atomic(path, |w| w.write_all(svg.as_bytes()))
    }
}

/// Rasters `svg` at its own size on white, its text in the built-in sans-serif font.
fn render_png(svg: &str) -> std::result::Result<Vec<u8>, String> {
    let mut fonts = usvg::fontdb::Database::new();
    fonts.load_font_data(epaint_default_fonts::UBUNTU_LIGHT.to_vec());
    let family = fonts
        .faces()
        .next()
        .and_then(|f| f.families.first())
        .map(|(name, _)| name.clone())
        .ok_or("the built-in font did not load")?;
    fonts.set_sans_serif_family(family.clone());
    let opt = usvg::Options {
        font_family: family,
        fontdb: Arc::new(fonts),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_data(svg.as_bytes(), &opt).map_err(|e| e.to_string())?;
    let size = tree.size().to_int_size();
    let mut pixmap =
        tiny_skia::Pixmap::new(size.width(), size.height()).ok_or("the image size is zero")?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| e.to_string())
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

/// The picture: loss (left axis, blue) and learning rate (right axis, orange, dashed) against
/// words processed, dotted lines at the epoch boundaries with each epoch's number above it.
fn loss_svg(points: &[PlotPoint], epoch_ends: &[f64], title: &str) -> String {
    let xmax = points.iter().map(|p| p.words).fold(f64::MIN, f64::max);
    let xmin = points
        .iter()
        .map(|p| p.words)
        .fold(f64::MAX, f64::min)
        .min(0.0);
    let ymin = points.iter().map(|p| p.loss).fold(f64::MAX, f64::min);
    let ymax = points.iter().map(|p| p.loss).fold(f64::MIN, f64::max);
    let lrs: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| p.lr.is_finite())
        .map(|p| (p.words, p.lr))
        .collect();
    let lrmax = lrs.iter().map(|p| p.1).fold(0.0, f64::max);
    let (xt, xstep) = ticks(xmin, xmax, 6.0);
    let (yt, ystep) = ticks(ymin, ymax, 6.0);
    let (lt, lstep) = ticks(0.0, lrmax, 5.0);
    let (x0, x1) = (xt[0], xt[xt.len() - 1]);
    let (y0, y1) = (yt[0], yt[yt.len() - 1]);
    let (l0, l1) = (lt[0], lt[lt.len() - 1]);
    let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let sx = |x: f64| LEFT + (x - x0) / (x1 - x0) * pw;
    let sy = |y: f64| TOP + ph - (y - y0) / (y1 - y0) * ph;
    let sl = |l: f64| TOP + ph - (l - l0) / (l1 - l0) * ph;
    let (right, bottom) = (LEFT + pw, TOP + ph);

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
            r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{bottom:.1}" stroke="#e4e4e4"/>"##
        );
        let _ = writeln!(
            s,
            r##"<line x1="{px:.1}" y1="{bottom:.1}" x2="{px:.1}" y2="{:.1}" stroke="#333"/>"##,
            bottom + 6.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{px:.1}" y="{:.1}" font-size="13" text-anchor="middle">{}</text>"#,
            bottom + 22.0,
            si_label(x, xstep)
        );
    }
    let yd = decimals_for(ystep);
    for &y in &yt {
        let py = sy(y);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{py:.1}" x2="{right:.1}" y2="{py:.1}" stroke="#e4e4e4"/>"##
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
    let ld = decimals_for(lstep);
    for &l in &lt {
        let py = sl(l);
        let _ = writeln!(
            s,
            r##"<line x1="{right:.1}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="{LR_COLOUR}"/>"##,
            right + 6.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="13" fill="{LR_COLOUR}">{l:.ld$}</text>"#,
            right + 10.0,
            py + 4.5
        );
    }
    // Epoch boundaries: a dotted line at each end but the last, the epoch's number above its span.
    let mut start = xmin;
    for (k, &end) in epoch_ends.iter().enumerate() {
        let px = sx(end);
        if k + 1 < epoch_ends.len() && end > x0 && end < x1 {
            let _ = writeln!(
                s,
                r##"<line class="epoch" x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{bottom:.1}" stroke="#888" stroke-dasharray="2,4"/>"##
            );
        }
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" font-size="11" fill="#666" text-anchor="middle">epoch {}</text>"##,
            (sx(start) + px) / 2.0,
            TOP - 6.0,
            k + 1
        );
        start = end;
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
    let mid = TOP + ph / 2.0;
    let _ = writeln!(
        s,
        r#"<text x="22" y="{mid:.1}" font-size="15" text-anchor="middle" fill="{LOSS_COLOUR}" transform="rotate(-90 22 {mid:.1})">loss (mean BCE per example)</text>"#
    );
    let lx = WIDTH - 16.0;
    let _ = writeln!(
        s,
        r#"<text x="{lx:.1}" y="{mid:.1}" font-size="15" text-anchor="middle" fill="{LR_COLOUR}" transform="rotate(90 {lx:.1} {mid:.1})">learning rate</text>"#
    );
    let line = |pts: &mut dyn Iterator<Item = (f64, f64)>| {
        pts.map(|(x, y)| format!("{x:.1},{y:.1}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let _ = writeln!(
        s,
        r##"<polyline class="lr" points="{}" fill="none" stroke="{LR_COLOUR}" stroke-width="1.5" stroke-dasharray="6,3"/>"##,
        line(&mut lrs.iter().map(|&(x, l)| (sx(x), sl(l))))
    );
    let _ = writeln!(
        s,
        r##"<polyline class="loss" points="{}" fill="none" stroke="{LOSS_COLOUR}" stroke-width="2" stroke-linejoin="round"/>"##,
        line(&mut points.iter().map(|p| (sx(p.words), sy(p.loss))))
    );
    if points.len() <= 60 {
        for p in points {
            let _ = writeln!(
                s,
                r##"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{LOSS_COLOUR}"/>"##,
                sx(p.words),
                sy(p.loss)
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

    /// Three epochs of a falling loss and a linearly decaying learning rate.
    fn curve(batches: usize) -> LossCurve {
        let per_epoch = 1e5;
        let points = (0..batches)
            .map(|i| {
                let words = (i + 1) as f64 * 3.0 * per_epoch / batches as f64;
                PlotPoint {
                    words,
                    loss: 0.69 / (1.0 + i as f64),
                    lr: 0.025 * (1.0 - words / (3.0 * per_epoch)).max(1e-4),
                }
            })
            .collect();
        LossCurve {
            points,
            epoch_ends: vec![per_epoch, 2.0 * per_epoch, 3.0 * per_epoch],
        }
    }

    #[test]
    fn svg_parses_with_title_both_axes_epochs_and_every_point() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("loss.svg");
        write_loss_plot(&p, &curve(12), "skip-gram <PTB>").unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap();
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(root.attribute("width"), Some("800"));
        let texts: Vec<&str> = root
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .collect();
        for want in [
            "skip-gram <PTB>",
            "words processed",
            "loss (mean BCE per example)",
            "learning rate",
            "epoch 1",
            "epoch 2",
            "epoch 3",
            "0.025",
        ] {
            assert!(texts.contains(&want), "{want:?} missing from {texts:?}");
        }
        assert!(
            texts.contains(&"300k"),
            "x ticks reach the last point: {texts:?}"
        );
        let class = |c: &str| {
            root.descendants()
                .filter(|n| n.attribute("class") == Some(c))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            class("epoch").len(),
            2,
            "a boundary between each two epochs"
        );
        for line in ["loss", "lr"] {
            let l = class(line);
            assert_eq!(l.len(), 1);
            assert_eq!(l[0].attribute("points").unwrap().split(' ').count(), 12);
        }
        assert_eq!(
            root.descendants()
                .filter(|n| n.has_tag_name("circle"))
                .count(),
            12
        );
    }

    #[test]
    fn png_decodes_at_the_svg_size_with_its_text_drawn() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("loss.png");
        check_plot(&p).unwrap();
        write_loss_plot(&p, &curve(500), "cbow loss, kjv.txt").unwrap();
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&p).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (800, 500));
        let px = info.color_type.samples();
        let dark = |x0: u32, x1: u32, y0: u32, y1: u32| {
            let mut n = 0;
            for y in y0..y1 {
                for x in x0..x1 {
                    let i = (y * info.width + x) as usize * px;
                    if buf[i..i + 3].iter().all(|&c| c < 128) {
                        n += 1;
                    }
                }
            }
            n
        };
        assert_eq!(dark(0, 800, 0, 10), 0, "a white background");
        // The title (centred, baseline at y 32) is drawn: the built-in font works.
        assert!(dark(300, 500, 14, 36) > 50, "no title drawn");
        // The loss line's colour appears inside the plot area.
        let blue = (TOP as u32..(HEIGHT - BOTTOM) as u32)
            .flat_map(|y| (LEFT as u32..(WIDTH - RIGHT) as u32).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let i = (y * info.width + x) as usize * px;
                buf[i] < 80 && buf[i + 2] > 140
            })
            .count();
        assert!(blue > 100, "the loss line is drawn ({blue} pixels)");
    }

    #[test]
    fn bad_requests_are_errors_and_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("loss.svg");
        let nan = LossCurve {
            points: vec![PlotPoint {
                words: 1.0,
                loss: f64::NAN,
                lr: 0.1,
            }],
            epoch_ends: vec![1.0],
        };
        assert!(write_loss_plot(&p, &nan, "t").is_err());
        assert!(write_loss_plot(&p, &LossCurve::default(), "t").is_err());
        check_plot(&p).unwrap();
        for bad in ["loss.pdf", "loss"] {
            let e = check_plot(&dir.path().join(bad)).unwrap_err().to_string();
            assert!(e.contains("name it *.svg or *.png"), "{e}");
        }
        assert!(
            write_loss_plot(&dir.path().join("loss.gif"), &curve(3), "t")
                .unwrap_err()
                .to_string()
                .contains("--plot")
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
