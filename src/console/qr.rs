//! A visitor's code as a QR code on the console's page: an inline SVG (one path of dark
//! modules on a white square with the standard four-module quiet zone), made on the server from
//! the `qrcode` crate's module matrix, so the page needs no image request, no `data:` URL and no
//! JavaScript. It carries only the code's digits: what the door's camera reads
//! ([`crate::credentials::qr::read_code`]).

use maud::{Markup, PreEscaped, html};

/// Modules of white around the symbol, as the QR standard asks.
const QUIET: usize = 4;

/// The QR code of `code` (a visitor's digits), labelled `label` for screen readers.
pub fn svg(code: &str, label: &str) -> Markup {
    let symbol =
        qrcode::QrCode::new(code.as_bytes()).expect("a short run of digits fits a QR code");
    let (width, colors) = (symbol.width(), symbol.to_colors());
    let side = width + 2 * QUIET;
    let mut path = String::new();
    for (i, color) in colors.iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let (x, y) = (i % width + QUIET, i / width + QUIET);
            path.push_str(&format!("M{x} {y}h1v1h-1z"));
        }
    }
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"qr\" viewBox=\"0 0 {side} {side}\" \
         shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"{}\">\
         <rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/>\
         <path d=\"{path}\" fill=\"#000\"/></svg>",
        html! { (label) }.into_string()
    );
    html! { (PreEscaped(svg)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dark modules of the SVG's path, drawn `scale` pixels each, as the camera's frame.
    fn raster(svg: &str, scale: usize) -> crate::vision::Frame {
        let side: usize =
            svg.split("viewBox=\"0 0 ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
        let path = svg.split(" d=\"").nth(1).unwrap().split('"').next().unwrap();
        let n = side * scale;
        let mut pixels = vec![255u8; n * n * 3];
        for square in path.split('M').filter(|s| !s.is_empty()) {
            let corner = square.strip_suffix("h1v1h-1z").unwrap();
            let (x, y) = corner.split_once(' ').unwrap();
            let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
            for py in y * scale..(y + 1) * scale {
                for px in x * scale..(x + 1) * scale {
                    pixels[(py * n + px) * 3..][..3].fill(0);
                }
            }
        }
        crate::vision::Frame::from_rgb(n as u32, n as u32, pixels).unwrap()
    }

    #[test]
    fn the_door_reads_the_code_from_the_svg_the_console_shows() {
        let markup = svg("40718263", "QR <code>").into_string();
        let code = crate::credentials::qr::read_code(&raster(&markup, 6)).expect("a code");
        assert_eq!(code.reveal(), "40718263");
        assert!(markup.contains("aria-label=\"QR &lt;code&gt;\""), "the label is escaped");
    }
}
