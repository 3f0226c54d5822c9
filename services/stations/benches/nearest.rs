//! Nearest-station search over a county with thousands of stations: the R-tree walk against a full
//! scan, with and without an amenity filter. `cargo bench -p redsupply-stations`.

use criterion::{Criterion, criterion_group, criterion_main};
use rand::{Rng, SeedableRng, rngs::StdRng};
use redsupply_stations::domain::{Hours, StationIndex, StationPoint, distance_meters, qualifies};
use uuid::Uuid;

fn county(n: usize) -> Vec<StationPoint> {
    let mut rng = StdRng::seed_from_u64(7);
    (0..n)
        .map(|i| StationPoint {
            id: Uuid::from_u128(i as u128),
            latitude: 29.60 + rng.random_range(0.0..0.30),
            longitude: 103.40 + rng.random_range(0.0..0.35),
            working: (1..=6).filter(|_| rng.random_bool(0.5)).collect(),
            hours: Hours {
                always_open: rng.random_bool(0.3),
                opens: 8 * 60,
                closes: 21 * 60,
            },
            riding_speed_kmh: None,
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    for n in [1_000, 10_000] {
        let stations = county(n);
        let index = StationIndex::new(stations.clone());
        let (lat, lng) = (29.74, 103.57);
        c.bench_function(&format!("rtree nearest 5, {n} stations"), |b| {
            b.iter(|| index.nearest(lat, lng, 5, f64::MAX, |_| true).len())
        });
        c.bench_function(
            &format!("rtree nearest 5 charging open at 23:00, {n} stations"),
            |b| {
                b.iter(|| {
                    index
                        .nearest(lat, lng, 5, f64::MAX, |s| {
                            qualifies(s, Some(4), Some(23 * 60))
                        })
                        .len()
                })
            },
        );
        c.bench_function(&format!("full scan nearest 5, {n} stations"), |b| {
            b.iter(|| {
                let mut d: Vec<(f64, usize)> = stations
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (distance_meters(lat, lng, s.latitude, s.longitude), i))
                    .collect();
                d.sort_by(|a, b| a.0.total_cmp(&b.0));
                d.truncate(5);
                d.len()
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
