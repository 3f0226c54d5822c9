//! The coverage map as a picture an operator can open: an SVG of the grids, the stations (named;
//! those that count in green with their service circle, the others grey; main stations larger)
//! and the gaps (red cells beyond the circle), over the county's configured extent or the grids
//! asked for. The projection is local and equal-scaled (a metre east is as long as a metre
//! north), so a circle is a circle; a scale bar and the time and timezone of the "open now" view
//! say what the picture measures. Pure: it draws what it is given.

use std::fmt::Write;

use kit::geo::Extent;
use stations::domain::StationPoint;

pub struct MapGrid<'a> {
    pub name: &'a str,
    pub ring: &'a [(f64, f64)],
    pub cells: i32,
    pub gaps: &'a [(f64, f64)],
}

pub struct MapStation<'a> {
    pub point: &'a StationPoint,
    pub name: &'a str,
    /// A main station (drawn larger) rather than a branch.
    pub main: bool,
    /// Open, with the amenity asked for, at the time of the view: it counts for coverage.
    pub counts: bool,
    /// How far it reaches in the minutes of the view, at its riding speed.
    pub reach_meters: f64,
}

pub struct MapInput<'a> {
    pub title: &'a str,
    /// When the "open now" view is for, with its timezone, or that hours were ignored.
    pub when: &'a str,
    /// The area drawn: the county's configured extent, or around the grids asked for.
    pub extent: Extent,
    pub grids: Vec<MapGrid<'a>>,
    pub stations: Vec<MapStation<'a>>,
    /// The reach at the county's speed (stations with their own speed reach their own).
    pub reach_meters: f64,
    pub cell_meters: f64,
}

mod text;
use text::{esc, halo_text};

const WIDTH: f64 = 1000.0;
const MARGIN: f64 = 40.0;
/// Room above the map for the title and the time.
const TOP: f64 = 70.0;
/// Room below the map for the scale bar and the legend.
const BOTTOM: f64 = 80.0;
/// Metres in a degree of latitude (and of longitude at the equator).
const METERS_PER_DEGREE: f64 = 111_195.0;

/// The local projection of an extent onto the page: equirectangular about the extent's middle
/// latitude, one scale for both axes.
#[derive(Debug, Clone, Copy)]
struct Projection {
    extent: Extent,
    /// Metres per degree of longitude here, over metres per degree of latitude.
    k: f64,
    /// Pixels per metre.
    scale: f64,
}

impl Projection {
    fn new(extent: Extent) -> Self {
        let k = ((extent.south + extent.north) / 2.0)
            .to_radians()
            .cos()
            .max(0.01);
        let width_m = ((extent.east - extent.west) * k * METERS_PER_DEGREE).max(1.0);
        let height_m = ((extent.north - extent.south) * METERS_PER_DEGREE).max(1.0);
        // As wide as the page allows; a tall extent makes a tall page.
        let scale = ((WIDTH - 2.0 * MARGIN) / width_m).min(2_000.0 / height_m);
        Self { extent, k, scale }
    }

    fn x(&self, lng: f64) -> f64 {
        MARGIN + (lng - self.extent.west) * self.k * METERS_PER_DEGREE * self.scale
    }

    fn y(&self, lat: f64) -> f64 {
        TOP + (self.extent.north - lat) * METERS_PER_DEGREE * self.scale
    }

    fn pixels(&self, meters: f64) -> f64 {
        meters * self.scale
    }

    fn map_height(&self) -> f64 {
        self.pixels((self.extent.north - self.extent.south) * METERS_PER_DEGREE)
    }

    /// As wide as the page allows, or narrower for a tall extent.
    fn map_width(&self) -> f64 {
        self.pixels((self.extent.east - self.extent.west) * self.k * METERS_PER_DEGREE)
    }
}

/// Where labels went, so that a label that would cover another is left out.
#[derive(Default)]
struct Labels {
    placed: Vec<(f64, f64, f64, f64)>,
    left_out: usize,
}

impl Labels {
    /// Takes the room a `size`-pixel label `text` needs with its baseline starting at (x, y);
    /// false (and counted) when another label holds part of it.
    fn place(&mut self, x: f64, y: f64, text: &str, size: f64) -> bool {
        let width = text.chars().count() as f64 * size * 0.6;
        let b = (x, y - size, x + width, y + size * 0.3);
        let clear = self
            .placed
            .iter()
            .all(|p| b.2 < p.0 || p.2 < b.0 || b.3 < p.1 || p.3 < b.1);
        if clear {
            self.placed.push(b);
        } else {
            self.left_out += 1;
        }
        clear
    }
}

/// The longest round length (1, 2 or 5 times a power of ten metres) at most `max_px` long.
fn scale_bar(p: &Projection, max_px: f64) -> (f64, String) {
    let mut best = 1.0;
    for exp in 0..7 {
        for m in [1.0, 2.0, 5.0] {
            let len = m * 10f64.powi(exp);
            if p.pixels(len) <= max_px {
                best = len;
            }
        }
    }
    let label = if best >= 1_000.0 {
        format!("{} km", best / 1_000.0)
    } else {
        format!("{best} m")
    };
    (best, label)
}

pub fn render(input: &MapInput<'_>) -> String {
    let p = Projection::new(input.extent);
    let height = TOP + p.map_height() + BOTTOM;
    let (x, y) = (|lng| p.x(lng), |lat| p.y(lat));
    // A station whose circle reaches into the area is drawn (clipped to it): it covers part of it.
    let farthest = input
        .stations
        .iter()
        .map(|s| s.reach_meters)
        .fold(input.reach_meters, f64::max);
    let reach_lat = farthest / METERS_PER_DEGREE;
    let reach_lng = reach_lat / p.k;
    let near = Extent {
        south: input.extent.south - reach_lat,
        west: input.extent.west - reach_lng,
        north: input.extent.north + reach_lat,
        east: input.extent.east + reach_lng,
    };
    let shown: Vec<&MapStation> = input
        .stations
        .iter()
        .filter(|s| near.contains(s.point.latitude, s.point.longitude))
        .collect();
    let outside = input.stations.len() - shown.len();

    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" font-family="sans-serif">"#
    );
    let _ = write!(
        svg,
        r##"<rect width="100%" height="100%" fill="#fbfbf8"/><clipPath id="area"><rect x="{MARGIN}" y="{TOP}" width="{w:.1}" height="{h:.1}"/></clipPath><rect x="{MARGIN}" y="{TOP}" width="{w:.1}" height="{h:.1}" fill="#ffffff" stroke="#cccccc"/>"##,
        w = p.map_width(),
        h = p.map_height()
    );
    let _ = write!(
        svg,
        r##"<text x="{MARGIN}" y="28" font-size="18">{}</text><text class="when" x="{MARGIN}" y="50" font-size="13" fill="#444444">{}</text>"##,
        esc(input.title),
        esc(input.when)
    );
    let mut labels = Labels::default();
    // Everything on the map is clipped to the area it shows.
    svg.push_str(r#"<g clip-path="url(#area)">"#);
    let cell = p.pixels(input.cell_meters);
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
    let mut grid_names = Vec::new();
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
        // The name in the grid's north-west corner, clear of the stations in its middle.
        let (north, west) = g
            .ring
            .iter()
            .fold((f64::MIN, f64::MAX), |(n, w), &(lat, lng)| {
                (n.max(lat), w.min(lng))
            });
        let pct = if g.cells > 0 {
            100.0 * g.gaps.len() as f64 / f64::from(g.cells)
        } else {
            0.0
        };
        grid_names.push(((north, west), format!("{} · {pct:.0}% gap", g.name)));
    }
    for s in shown.iter().filter(|s| s.counts) {
        let reach = p.pixels(s.reach_meters);
        let _ = write!(
            svg,
            r##"<circle class="reach" cx="{:.2}" cy="{:.2}" r="{reach:.2}" fill="#1a9850" fill-opacity="0.06" stroke="#1a9850" stroke-dasharray="4 3"/>"##,
            x(s.point.longitude),
            y(s.point.latitude)
        );
    }
    for s in &shown {
        let (cx, cy) = (x(s.point.longitude), y(s.point.latitude));
        let colour = if s.counts { "#1a9850" } else { "#999999" };
        let r = if s.main { 6.0 } else { 4.0 };
        let _ = write!(
            svg,
            r##"<circle class="station" cx="{cx:.2}" cy="{cy:.2}" r="{r}" fill="{colour}" stroke="#ffffff"><title>{}</title></circle>"##,
            esc(s.name)
        );
    }
    // Names last, main stations first, then the grids', each where no other name is; only
    // what lies inside the area gets a name.
    let mut named: Vec<&&MapStation> = shown
        .iter()
        .filter(|s| input.extent.contains(s.point.latitude, s.point.longitude))
        .collect();
    named.sort_by_key(|s| (!s.main, s.name));
    for s in named {
        let r = if s.main { 6.0 } else { 4.0 };
        let (lx, ly) = (x(s.point.longitude) + r + 2.0, y(s.point.latitude) + 3.5);
        if labels.place(lx, ly, s.name, 10.0) {
            halo_text(&mut svg, "name", (lx, ly), 10.0, "#222222", s.name);
        }
    }
    for ((north, west), text) in &grid_names {
        let (lx, ly) = (x(*west) + 4.0, y(*north) + 14.0);
        if input.extent.contains(*north, *west) && labels.place(lx, ly, text, 11.0) {
            halo_text(&mut svg, "grid-name", (lx, ly), 11.0, "#3b5b92", text);
        }
    }
    svg.push_str("</g>");
    // The scale bar, then the legend, below the map.
    let by = TOP + p.map_height() + 22.0;
    let (len, label) = scale_bar(&p, 200.0);
    let bar = p.pixels(len);
    let _ = write!(
        svg,
        r##"<g class="scale" font-size="12"><rect x="{MARGIN}" y="{:.1}" width="{bar:.2}" height="4" fill="#222222"/><text x="{:.1}" y="{:.1}">{label}</text></g>"##,
        by - 4.0,
        MARGIN + bar + 6.0,
        by + 1.0
    );
    let ly = by + 26.0;
    let _ = write!(
        svg,
        r##"<g font-size="12"><circle cx="{MARGIN}" cy="{ly}" r="5" fill="#1a9850"/><text x="{}" y="{}">counts (its {:.0} m circle, less where riders are slower); larger: main station</text><circle cx="{}" cy="{ly}" r="5" fill="#999999"/><text x="{}" y="{}">closed or lacking the amenity</text><rect x="{}" y="{}" width="10" height="10" fill="#d7301f" fill-opacity="0.45"/><text x="{}" y="{}">gap</text></g>"##,
        MARGIN + 10.0,
        ly + 4.0,
        input.reach_meters,
        MARGIN + 530.0,
        MARGIN + 540.0,
        ly + 4.0,
        MARGIN + 760.0,
        ly - 5.0,
        MARGIN + 775.0,
        ly + 4.0
    );
    if labels.left_out > 0 {
        let _ = write!(
            svg,
            r##"<text class="crowded" x="{MARGIN}" y="{:.1}" font-size="12" fill="#444444">{} name(s) left out where they would overlap; --grid draws grids up close</text>"##,
            ly + 22.0,
            labels.left_out
        );
    }
    if outside > 0 {
        let _ = write!(
            svg,
            r##"<text class="outside" x="{:.1}" y="{:.1}" font-size="12" text-anchor="end" fill="#444444">{outside} station(s) beyond the area shown</text>"##,
            WIDTH - MARGIN,
            by + 1.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use stations::domain::Hours;

    fn point(latitude: f64, longitude: f64) -> StationPoint {
        StationPoint {
            id: Uuid::nil(),
            latitude,
            longitude,
            working: vec![1],
            riding_speed_kmh: None,
            hours: Hours {
                always_open: true,
                opens: 0,
                closes: 0,
            },
        }
    }

    #[test]
    fn a_metre_east_is_as_long_as_a_metre_north_so_circles_are_circles() {
        let p = Projection::new(Extent::default());
        let (lat, lng) = (29.74, 103.57);
        let r = 1_250.0;
        let north = p.y(lat) - p.y(lat + r / METERS_PER_DEGREE);
        let east = p.x(lng + r / (METERS_PER_DEGREE * lat.to_radians().cos())) - p.x(lng);
        assert!(
            (north - p.pixels(r)).abs() < 0.01,
            "{north} vs {}",
            p.pixels(r)
        );
        // The projection's middle latitude is 29.7°, the point's 29.74°: within 0.1%.
        assert!((east - p.pixels(r)).abs() / p.pixels(r) < 0.001, "{east}");
    }

    #[test]
    fn a_tall_area_is_drawn_narrower_not_wider_than_itself() {
        let tall = Projection::new(Extent {
            south: 29.0,
            west: 103.5,
            north: 30.0,
            east: 103.52,
        });
        assert!(tall.map_height() <= 2_000.01, "{}", tall.map_height());
        assert!(tall.map_width() < WIDTH - 2.0 * MARGIN);
        // The east edge of the area is the east edge of the frame.
        assert!((tall.x(103.52) - (MARGIN + tall.map_width())).abs() < 0.01);
    }

    #[test]
    fn the_scale_bar_is_a_round_length_that_fits() {
        let p = Projection::new(Extent::default());
        let (len, label) = scale_bar(&p, 200.0);
        assert!(p.pixels(len) <= 200.0 && p.pixels(len * 2.0) > 100.0);
        assert!(label.ends_with(" km") || label.ends_with(" m"), "{label}");
    }

    #[test]
    fn the_map_draws_named_stations_gaps_and_its_scale_over_the_given_extent() {
        let main = point(29.74, 103.57);
        let branch = point(29.741, 103.575);
        let far = point(39.9, 116.4);
        let ring = [
            (29.735, 103.565),
            (29.735, 103.575),
            (29.745, 103.575),
            (29.745, 103.565),
        ];
        let gaps = [(29.7355, 103.5655), (29.7445, 103.5745)];
        let extent = Extent {
            south: 29.73,
            west: 103.56,
            north: 29.75,
            east: 103.58,
        };
        let svg = render(&MapInput {
            title: "Charging <5 min>",
            when: "2026-12-01 09:00 UTC+08:00",
            extent,
            grids: vec![MapGrid {
                name: "Grid & Co",
                ring: &ring,
                cells: 100,
                gaps: &gaps,
            }],
            stations: vec![
                MapStation {
                    point: &main,
                    name: "Main <1>",
                    main: true,
                    counts: true,
                    reach_meters: 1_250.0,
                },
                MapStation {
                    point: &branch,
                    name: "Branch",
                    main: false,
                    counts: false,
                    reach_meters: 1_250.0,
                },
                MapStation {
                    point: &far,
                    name: "Far away",
                    main: false,
                    counts: true,
                    reach_meters: 1_250.0,
                },
            ],
            reach_meters: 1_250.0,
            cell_meters: 100.0,
        });
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches(r#"class="gap""#).count(), 2);
        assert_eq!(svg.matches(r#"class="grid""#).count(), 1);
        // The far station is neither drawn nor allowed to widen the picture.
        assert_eq!(svg.matches(r#"class="station""#).count(), 2);
        assert_eq!(svg.matches(r#"class="reach""#).count(), 1);
        assert!(svg.contains(">Main &lt;1&gt;</text>") && svg.contains(">Branch</text>"));
        assert!(!svg.contains("Far away"));
        assert!(svg.contains("1 station(s) beyond the area shown"));
        assert!(svg.contains("2026-12-01 09:00 UTC+08:00"));
        assert!(svg.contains(r#"class="scale""#));
        assert!(svg.contains("Grid &amp; Co · 2% gap"));
        assert!(svg.contains("Charging &lt;5 min&gt;"));
        assert!(!svg.contains(r#"class="crowded""#), "nothing overlaps here");
        // The grid spans the middle half of a 2 km-wide extent: about half the page's width.
        let p = Projection::new(extent);
        let grid_px = p.x(103.575) - p.x(103.565);
        assert!(
            (grid_px / (WIDTH - 2.0 * MARGIN) - 0.5).abs() < 0.01,
            "{grid_px}"
        );
    }

    #[test]
    fn a_name_that_would_cover_another_is_left_out_and_said_so() {
        let a = point(29.74, 103.57);
        let b = point(29.74, 103.5701);
        let svg = render(&MapInput {
            title: "t",
            when: "w",
            extent: Extent::default(),
            grids: Vec::new(),
            stations: vec![
                MapStation {
                    point: &a,
                    name: "Branch next door",
                    main: false,
                    counts: true,
                    reach_meters: 1_250.0,
                },
                MapStation {
                    point: &b,
                    name: "Main",
                    main: true,
                    counts: true,
                    reach_meters: 1_250.0,
                },
            ],
            reach_meters: 1_250.0,
            cell_meters: 100.0,
        });
        assert_eq!(svg.matches(r#"class="station""#).count(), 2);
        assert!(
            svg.contains(r#">Main</text>"#),
            "the main station keeps its name"
        );
        assert!(!svg.contains(">Branch next door</text>"));
        assert!(svg.contains("1 name(s) left out where they would overlap"));
    }
}
