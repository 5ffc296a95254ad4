//! A DET curve (FNMR against FMR, both on log axes) as a small standalone SVG.

use std::fmt::Write;

use super::metrics::OperatingPoint;

const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 420.0;
const MARGIN: f64 = 60.0;
/// Axes run from 10^LOW to 1.
const FMR_LOW: f64 = -5.0;
const FNMR_LOW: f64 = -4.0;

/// Renders the curve with a title line under the plot.
pub fn render(points: &[OperatingPoint], title: &str) -> String {
    let x =
        |fmr: f64| MARGIN + (fmr.max(1e-5).log10() - FMR_LOW) / -FMR_LOW * (WIDTH - 2.0 * MARGIN);
    let y = |fnmr: f64| {
        HEIGHT - MARGIN - (fnmr.max(1e-4).log10() - FNMR_LOW) / -FNMR_LOW * (HEIGHT - 2.0 * MARGIN)
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    svg.push_str(r#"<rect width="100%" height="100%" fill="white"/>"#);
    for e in FMR_LOW as i32..=0 {
        let px = x(10f64.powi(e));
        let _ = write!(
            svg,
            r##"<line x1="{px:.1}" y1="{MARGIN}" x2="{px:.1}" y2="{:.1}" stroke="#ddd"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">1e{e}</text>"##,
            HEIGHT - MARGIN,
            HEIGHT - MARGIN + 16.0
        );
    }
    for e in FNMR_LOW as i32..=0 {
        let py = y(10f64.powi(e));
        let _ = write!(
            svg,
            r##"<line x1="{MARGIN}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">1e{e}</text>"##,
            WIDTH - MARGIN,
            MARGIN - 6.0,
            py + 4.0
        );
    }
    // Points off the axes (a rate of 0 has no logarithm) are left out rather than clamped.
    let path: Vec<String> = points
        .iter()
        .filter(|p| p.fmr >= 1e-5 && p.fnmr >= 1e-4)
        .map(|p| format!("{:.1},{:.1}", x(p.fmr), y(p.fnmr)))
        .collect();
    let _ = write!(
        svg,
        r##"<polyline fill="none" stroke="#c0392b" stroke-width="2" points="{}"/>"##,
        path.join(" ")
    );
    let _ = write!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">FMR (false match rate)</text><text x="14" y="{:.1}" transform="rotate(-90 14 {:.1})" text-anchor="middle">FNMR (false non-match rate)</text><text x="{:.1}" y="24" text-anchor="middle">{}</text></svg>"#,
        WIDTH / 2.0,
        HEIGHT - 20.0,
        HEIGHT / 2.0,
        HEIGHT / 2.0,
        WIDTH / 2.0,
        escape(title)
    );
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_polyline_with_one_vertex_per_point() {
        let points = [
            OperatingPoint { threshold: 0.1, fmr: 0.1, fnmr: 0.001 },
            OperatingPoint { threshold: 0.5, fmr: 0.001, fnmr: 0.01 },
            OperatingPoint { threshold: 0.9, fmr: 0.0, fnmr: 0.5 },
        ];
        let svg = render(&points, "a <b> & c");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        let polyline = svg.split("points=\"").nth(1).unwrap().split('"').next().unwrap();
        assert_eq!(polyline.split(' ').count(), 2);
        assert!(svg.contains("a &lt;b&gt; &amp; c"));
    }
}
