//! What one `GetCoverage` costs: sampling the demo county's nine grids (0.01° squares) at 25 m
//! cells against 30 stations — what every call paid before answers were cached — against what a
//! repeated call pays now (the cache key over the grids and the query).
//! `cargo bench -p redsupply-stations --bench coverage`.

use criterion::{Criterion, criterion_group, criterion_main};
use rand::{Rng, SeedableRng, rngs::StdRng};
use redsupply_stations::{
    app::coverage::{CoverageQuery, fingerprint},
    domain::{self, Hours, StationIndex, StationPoint},
    store::GridRow,
};
use sqlx::types::Json;
use uuid::Uuid;

const SEAT: (f64, f64) = (29.74, 103.57);

fn grids() -> Vec<GridRow> {
    (0..9)
        .map(|i| {
            let (lat, lng) = (
                SEAT.0 - 0.015 + 0.01 * (i / 3) as f64,
                SEAT.1 - 0.015 + 0.01 * (i % 3) as f64,
            );
            GridRow {
                id: Uuid::from_u128(i as u128),
                name: format!("Grid {i}"),
                boundary: Json(vec![
                    (lat, lng),
                    (lat, lng + 0.01),
                    (lat + 0.01, lng + 0.01),
                    (lat + 0.01, lng),
                ]),
            }
        })
        .collect()
}

fn stations() -> StationIndex {
    let mut rng = StdRng::seed_from_u64(7);
    StationIndex::new(
        (0..30)
            .map(|i| StationPoint {
                id: Uuid::from_u128(i as u128),
                latitude: SEAT.0 - 0.015 + rng.random_range(0.0..0.03),
                longitude: SEAT.1 - 0.015 + rng.random_range(0.0..0.03),
                working: (1..=6).collect(),
                hours: Hours {
                    always_open: true,
                    opens: 0,
                    closes: 0,
                },
                riding_speed_kmh: None,
            })
            .collect(),
    )
}

fn bench(c: &mut Criterion) {
    let (grids, index) = (grids(), stations());
    let q = CoverageQuery {
        amenity: None,
        max_minutes: 5.0,
        cell_meters: 25.0,
        minute: Some(600),
        speeds: domain::Speeds::county(15.0),
        grids: Vec::new(),
        community: None,
    };
    let reach = domain::Reach {
        minutes: q.max_minutes,
        speeds: &q.speeds,
    };
    let mut group = c.benchmark_group("coverage");
    group.sample_size(10);
    group.bench_function("sampling 9 grids at 25 m (a miss)", |b| {
        b.iter(|| {
            grids
                .iter()
                .map(|g| {
                    domain::coverage(&g.boundary, q.cell_meters, &reach, &index, |_| true).cells
                })
                .sum::<usize>()
        })
    });
    group.bench_function("cache key of the same call (a hit)", |b| {
        b.iter(|| fingerprint(&q, 1, &grids))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
