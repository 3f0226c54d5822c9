//! The demo county's red supply stations: the main station at the seat, one per community and
//! three at business districts, each placed through stations' own use case (announced like any
//! other) and found again by name on a re-run.

use sqlx::PgPool;
use uuid::Uuid;

use super::{CELL, COMMUNITIES, SEAT, SeedError, grid_corner};

pub(super) async fn seed_stations(pool: &PgPool, communities: &[Uuid]) -> Result<usize, SeedError> {
    use redsupply_proto::stations::v1::{Amenity as A, StationHost as H, StationTier as T};
    use stations::domain::Hours;
    const ALWAYS: Hours = Hours {
        always_open: true,
        opens: 0,
        closes: 0,
    };
    let all = [
        A::Rest,
        A::DrinkingWater,
        A::MealHeating,
        A::Charging,
        A::Reading,
        A::MediationLegalAid,
    ]
    .map(|a| a as i16);
    let basic = [A::Rest, A::DrinkingWater, A::Charging].map(|a| a as i16);
    let mut n = 0;
    stations::app::stations::seed_station(
        pool,
        &stations::store::NewStation {
            name: "Jiajiang County Red Supply Main Station",
            tier: T::Main as i16,
            host: H::CommunityCentre as i16,
            latitude: SEAT.0,
            longitude: SEAT.1,
            address: "County Party-Mass Service Centre, Yancheng Street",
            amenities: &all,
            community_id: communities.get(4).copied(),
            hours: ALWAYS,
            riding_speed_kmh: None,
        },
    )
    .await?;
    n += 1;
    for (i, name) in COMMUNITIES.iter().enumerate().take(communities.len()) {
        let (lat, lng) = grid_corner(i);
        stations::app::stations::seed_station(
            pool,
            &stations::store::NewStation {
                name: &format!("{name} Community Station"),
                tier: T::Community as i16,
                host: H::CommunityCentre as i16,
                // Near the middle of the grid, off the main station's spot in the central one.
                latitude: lat + CELL * 0.35,
                longitude: lng + CELL * 0.6,
                address: &format!("{name} Community Party-Mass Service Centre"),
                amenities: &all[..5],
                community_id: Some(communities[i]),
                // Community centres: 08:00–21:00.
                hours: Hours {
                    always_open: false,
                    opens: 8 * 60,
                    closes: 21 * 60,
                },
                riding_speed_kmh: None,
            },
        )
        .await?;
        n += 1;
    }
    let districts = [
        (
            "Dongda Street Business District Station",
            H::BankBranch,
            0.004,
            0.006,
        ),
        (
            "Ceramics Market Business District Station",
            H::MassOrganizationSite,
            -0.006,
            -0.004,
        ),
        (
            "Qingyi River Business District Station",
            H::BankBranch,
            0.007,
            -0.007,
        ),
    ];
    for (name, host, dlat, dlng) in districts {
        stations::app::stations::seed_station(
            pool,
            &stations::store::NewStation {
                name,
                tier: T::BusinessDistrict as i16,
                host: host as i16,
                latitude: SEAT.0 + dlat,
                longitude: SEAT.1 + dlng,
                address: name,
                amenities: &basic,
                community_id: None,
                // The ceramics market's lanes are crowded: riders are slower around it.
                riding_speed_kmh: (host == H::MassOrganizationSite).then_some(8.0),
                // Bank branches keep office hours; the market site stays open late.
                hours: if host == H::BankBranch {
                    Hours {
                        always_open: false,
                        opens: 9 * 60,
                        closes: 17 * 60 + 30,
                    }
                } else {
                    Hours {
                        always_open: false,
                        opens: 8 * 60,
                        closes: 22 * 60,
                    }
                },
            },
        )
        .await?;
        n += 1;
    }
    Ok(n)
}
