//! `redsupply coverage-map`: coverage computed from the stations database (as `GetCoverage`
//! does) and drawn as an SVG an operator can open.

use super::*;

pub struct MapOptions {
    /// Only these grids, and the map drawn around them; empty: every grid over the county's
    /// configured extent.
    pub grids: Vec<uuid::Uuid>,
    /// Only this community's grids, and the map drawn around them.
    pub community: Option<uuid::Uuid>,
    pub amenity: String,
    pub minutes: u32,
    pub cell_meters: u32,
    pub at: Option<String>,
    pub ignore_hours: bool,
    pub out: std::path::PathBuf,
}

/// Computes coverage from the stations database (as `GetCoverage` does) and draws it.
pub async fn coverage_map(settings: AppSettings, o: MapOptions) -> anyhow::Result<()> {
    use redsupply_proto::stations::v1::{Amenity, StationTier};
    let amenity = if o.amenity.is_empty() {
        None
    } else {
        let name = format!("AMENITY_{}", o.amenity.to_ascii_uppercase());
        Some(
            Amenity::from_str_name(&name)
                .with_context(|| format!("unknown amenity {:?}", o.amenity))? as i16,
        )
    };
    if !(1..=120).contains(&o.minutes) || !(10..=5_000).contains(&o.cell_meters) {
        bail!("--minutes must be within 1..120 and --cell-meters within 10..5000");
    }
    let at = match &o.at {
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .with_context(|| format!("--at {t:?} is not RFC 3339"))?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    };
    let clock = settings.stations.clock()?;
    let minute = (!o.ignore_hours).then(|| clock.minute_of_day(at));
    let pool = stations::pool(&settings.common)?;
    let speeds = settings.stations.speeds();
    let reach = stations::domain::Reach {
        minutes: f64::from(o.minutes),
        speeds: &speeds,
    };
    let index = stations::app::index::Stations::default();
    index.reload(&pool).await?;
    let report = stations::app::coverage::coverage_report(
        &pool,
        &index,
        &stations::app::coverage::CoverageQuery {
            amenity,
            max_minutes: f64::from(o.minutes),
            cell_meters: f64::from(o.cell_meters),
            minute,
            speeds: speeds.clone(),
            grids: o.grids.clone(),
            community: o.community,
        },
    )
    .await?;
    let grids = stations::store::grids(&pool, &o.grids, o.community).await?;
    if grids.is_empty() && (o.community.is_some() || !o.grids.is_empty()) {
        bail!("no grid with a boundary matches --grid/--community");
    }
    let rows = stations::store::list_stations(&pool, None, None, false, None, 100_000).await?;
    let current = index.current();
    let gaps: Vec<Vec<(f64, f64)>> = report
        .grids
        .iter()
        .map(|g| g.gaps.iter().map(|p| (p.latitude, p.longitude)).collect())
        .collect();
    let map_grids = report
        .grids
        .iter()
        .zip(&gaps)
        .filter_map(|(g, gaps)| {
            let ring = grids.iter().find(|r| r.id.to_string() == g.grid_id)?;
            Some(redsupply::map::MapGrid {
                name: &g.name,
                ring: &ring.boundary.0,
                cells: g.cells,
                gaps,
            })
        })
        .collect();
    let map_stations = current
        .stations()
        .iter()
        .map(|s| {
            let row = rows.iter().find(|r| r.id == s.id);
            redsupply::map::MapStation {
                point: s,
                name: row.map_or("station", |r| r.name.as_str()),
                main: row.is_some_and(|r| r.tier == StationTier::Main as i16),
                counts: stations::domain::qualifies(s, amenity, minute),
                reach_meters: reach.of(s),
            }
        })
        .collect();
    let title = format!(
        "{}-minute service circle ({})",
        o.minutes,
        if o.amenity.is_empty() {
            "any station"
        } else {
            &o.amenity
        },
    );
    let offset = chrono::FixedOffset::east_opt(clock.offset_minutes() * 60).expect("valid offset");
    let when = if o.ignore_hours {
        "all hours: opening times ignored".to_owned()
    } else {
        format!(
            "stations open at {} (UTC{})",
            at.with_timezone(&offset).format("%Y-%m-%d %H:%M"),
            offset
        )
    };
    let extent = if o.grids.is_empty() && o.community.is_none() {
        settings.common.county.extent
    } else {
        around(grids.iter().flat_map(|g| g.boundary.0.iter().copied()))
    };
    let svg = redsupply::map::render(&redsupply::map::MapInput {
        title: &title,
        when: &when,
        extent,
        grids: map_grids,
        stations: map_stations,
        reach_meters: report.reach_meters,
        cell_meters: f64::from(o.cell_meters),
    });
    std::fs::write(&o.out, svg).with_context(|| format!("writing {}", o.out.display()))?;
    for g in &report.grids {
        println!(
            "{:<28} {:>6} cells  {:>5.1}% beyond {} min",
            g.name,
            g.cells,
            100.0 * g.uncovered_fraction,
            o.minutes
        );
    }
    println!("map written to {}", o.out.display());
    Ok(())
}

/// The extent of `points` with a margin of a fifth of its size on every side (at least 200 m).
fn around(points: impl Iterator<Item = (f64, f64)>) -> kit::geo::Extent {
    let (mut s, mut w, mut n, mut e) = (90.0f64, 180.0f64, -90.0f64, -180.0f64);
    for (lat, lng) in points {
        (s, w, n, e) = (s.min(lat), w.min(lng), n.max(lat), e.max(lng));
    }
    let pad_lat = ((n - s) / 5.0).max(0.002);
    let pad_lng = ((e - w) / 5.0).max(0.002);
    kit::geo::Extent {
        south: s - pad_lat,
        west: w - pad_lng,
        north: n + pad_lat,
        east: e + pad_lng,
    }
}
