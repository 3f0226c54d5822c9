//! The coverage map as a picture an operator can open: an SVG of the grids, the stations (those
//! that count in green, the others grey, each with its service circle) and the gaps (red cells
//! beyond the circle). Pure: it draws what it is given.

use std::fmt::Write;

use stations::domain::StationPoint;

pub struct MapGrid<'a> {
    pub name: &'a str,
    pub ring: &'a [(f64, f64)],
    pub cells: i32,
    pub gaps: &'a [(f64, f64)],
}

pub struct MapInput<'a> {
    pub title: &'a str,
    pub grids: Vec<MapGrid<'a>>,
    pub stations: Vec<(&'a StationPoint, &'a str, bool)>,
    pub reach_meters: f64,
    pub cell_meters: f64,
}

const WIDTH: f64 = 1000.0;
const MARGIN: f64 = 40.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn render(input: &MapInput<'_>) -> String {
    let points = input
        .grids
        .iter()
        .flat_map(|g| g.ring.iter().copied())
        .chain(
            input
                .stations
                .iter()
                .map(|(s, _, _)| (s.latitude, s.longitude)),
        );
    let (mut lat_min, mut lat_max, mut lng_min, mut lng_max) =
        (90.0f64, -90.0f64, 180.0f64, -180.0f64);
    for (lat, lng) in points {
        lat_min = lat_min.min(lat);
        lat_max = lat_max.max(lat);
        lng_min = lng_min.min(lng);
        lng_max = lng_max.max(lng);
    }
    if lat_min > lat_max {
        (lat_min, lat_max, lng_min, lng_max) = (0.0, 0.0, 0.0, 0.0);
    }
    let k = ((lat_min + lat_max) / 2.0).to_radians().cos().max(0.01);
    let span_x = ((lng_max - lng_min) * k).max(1e-6);
    let span_y = (lat_max - lat_min).max(1e-6);
    let scale = (WIDTH - 2.0 * MARGIN) / span_x.max(span_y);
    let height = span_y * scale + 2.0 * MARGIN + 60.0;
    let x = |lng: f64| MARGIN + (lng - lng_min) * k * scale;
    let y = |lat: f64| MARGIN + 40.0 + (lat_max - lat) * scale;
    let meters = |m: f64| m / 111_195.0 * scale;

    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" font-family="sans-serif">"#
    );
    let _ = write!(
        svg,
        r##"<rect width="100%" height="100%" fill="#fbfbf8"/>"##
    );
    let _ = write!(
        svg,
        r#"<text x="{MARGIN}" y="28" font-size="18">{}</text>"#,
        esc(input.title)
    );
    let cell = meters(input.cell_meters);
    for g in &input.grids {
        for &(lat, lng) in g.gaps {
            let _ = write!(
                svg,
                r##"<rect class="gap" x="{:.2}" y="{:.2}" width="{cell:.2}" height="{cell:.2}" fill="#d7301f" fill-opacity="0.45"/>"##,
                x(lng) - cell / 2.0,
                y(lat) - cell / 2.0
            );
        }
    }
    for g in &input.grids {
        let pts: Vec<String> = g
            .ring
            .iter()
            .map(|&(lat, lng)| format!("{:.2},{:.2}", x(lng), y(lat)))
            .collect();
        let _ = write!(
            svg,
            r##"<polygon class="grid" points="{}" fill="none" stroke="#3b5b92" stroke-width="1.5"/>"##,
            pts.join(" ")
        );
        let n = g.ring.len().max(1) as f64;
        let (clat, clng) = g
            .ring
            .iter()
            .fold((0.0, 0.0), |(a, b), &(lat, lng)| (a + lat / n, b + lng / n));
        let pct = if g.cells > 0 {
            100.0 * g.gaps.len() as f64 / f64::from(g.cells)
        } else {
            0.0
        };
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="#3b5b92">{} · {pct:.0}% gap</text>"##,
            x(clng),
            y(clat),
            esc(g.name)
        );
    }
    for (s, name, counts) in &input.stations {
        let (cx, cy) = (x(s.longitude), y(s.latitude));
        if *counts {
            let _ = write!(
                svg,
                r##"<circle class="reach" cx="{cx:.2}" cy="{cy:.2}" r="{:.2}" fill="none" stroke="#1a9850" stroke-dasharray="4 3"/>"##,
                meters(input.reach_meters)
            );
        }
        let colour = if *counts { "#1a9850" } else { "#999999" };
        let _ = write!(
            svg,
            r#"<circle class="station" cx="{cx:.2}" cy="{cy:.2}" r="5" fill="{colour}"><title>{}</title></circle>"#,
            esc(name)
        );
    }
    let ly = height - 18.0;
    let _ = write!(
        svg,
        r##"<g font-size="12"><circle cx="{MARGIN}" cy="{ly}" r="5" fill="#1a9850"/><text x="{}" y="{}">station that counts (with its {:.0} m circle)</text><circle cx="{}" cy="{ly}" r="5" fill="#999999"/><text x="{}" y="{}">closed or lacking the amenity</text><rect x="{}" y="{}" width="10" height="10" fill="#d7301f" fill-opacity="0.45"/><text x="{}" y="{}">gap</text></g>"##,
        MARGIN + 10.0,
        ly + 4.0,
        input.reach_meters,
        MARGIN + 330.0,
        MARGIN + 340.0,
        ly + 4.0,
        MARGIN + 560.0,
        ly - 5.0,
        MARGIN + 575.0,
        ly + 4.0
    );
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use stations::domain::Hours;

    #[test]
    fn the_map_draws_every_grid_station_and_gap() {
        let station = StationPoint {
            id: Uuid::nil(),
            latitude: 29.74,
            longitude: 103.57,
            working: vec![1],
            hours: Hours {
                always_open: true,
                opens: 0,
                closes: 0,
            },
        };
        let ring = [
            (29.735, 103.565),
            (29.735, 103.575),
            (29.745, 103.575),
            (29.745, 103.565),
        ];
        let gaps = [(29.7355, 103.5655), (29.7445, 103.5745)];
        let svg = render(&MapInput {
            title: "Charging <5 min>",
            grids: vec![MapGrid {
                name: "Grid & Co",
                ring: &ring,
                cells: 100,
                gaps: &gaps,
            }],
            stations: vec![(&station, "Main", true)],
            reach_meters: 1_250.0,
            cell_meters: 100.0,
        });
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches(r#"class="gap""#).count(), 2);
        assert_eq!(svg.matches(r#"class="grid""#).count(), 1);
        assert_eq!(svg.matches(r#"class="station""#).count(), 1);
        assert!(svg.contains("Grid &amp; Co · 2% gap"));
        assert!(svg.contains("Charging &lt;5 min&gt;"));
    }
}
