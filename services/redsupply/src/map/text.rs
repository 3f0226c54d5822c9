//! Text on the map: escaped for SVG, and labels with a halo that keeps them readable over the
//! circles and grid lines beneath.

use std::fmt::Write as _;

pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A label readable over circles and lines: a white halo drawn first, the text over it (two
/// elements rather than `paint-order`, which not every renderer honours).
pub(super) fn halo_text(
    svg: &mut String,
    class: &str,
    (x, y): (f64, f64),
    size: f64,
    fill: &str,
    text: &str,
) {
    let text = esc(text);
    let _ = write!(
        svg,
        r##"<g class="{class}" font-size="{size}"><text x="{x:.2}" y="{y:.2}" fill="#ffffff" stroke="#ffffff" stroke-width="3" stroke-linejoin="round">{text}</text><text x="{x:.2}" y="{y:.2}" fill="{fill}">{text}</text></g>"##
    );
}
