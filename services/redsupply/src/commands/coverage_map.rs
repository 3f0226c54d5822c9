//! `redsupply coverage-map`: coverage computed from the stations database (as `GetCoverage`
//! does) and drawn as an SVG an operator can open.

use super::*;

pub struct MapOptions {
    pub amenity: String,
    pub minutes: u32,
    pub cell_meters: u32,
    pub at: Option<String>,
    pub ignore_hours: bool,
    pub out: std::path::PathBuf,
}

/// Computes coverage from the stations database (as `GetCoverage` does) and draws it.
pub async fn coverage_map(settings: AppSettings, o: MapOptions) -> anyhow::Result<()> {
    use redsupply_proto::stations::v1::Amenity;
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
            riding_speed_kmh: settings.stations.riding_speed_kmh,
            grids: Vec::new(),
        },
    )
    .await?;
    let grids = stations::store::grids(&pool, &[]).await?;
    let rows = stations::store::list_stations(&pool, None, None, None, 100_000).await?;
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
            let name = rows
                .iter()
                .find(|r| r.id == s.id)
                .map(|r| r.name.as_str())
                .unwrap_or("station");
            (s, name, stations::domain::qualifies(s, amenity, minute))
        })
        .collect();
    let title = format!(
        "{}-minute service circle ({}), {}",
        o.minutes,
        if o.amenity.is_empty() {
            "any station"
        } else {
            &o.amenity
        },
        if o.ignore_hours {
            "all hours".to_owned()
        } else {
            at.with_timezone(
                &chrono::FixedOffset::east_opt(clock.offset_minutes() * 60).expect("valid offset"),
            )
            .format("%Y-%m-%d %H:%M")
            .to_string()
        }
    );
    let svg = redsupply::map::render(&redsupply::map::MapInput {
        title: &title,
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
