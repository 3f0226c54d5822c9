//! Looking up a record that arrives by event from another service: a moment's grace for ids
//! minted seconds ago, none for the rest.

/// Ids minted this recently may not have reached other services' read models yet.
pub(super) const RECENT: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether `lookup` finds the record `id` that arrives by event. An id minted in the last 30 s
/// (UUIDv7 carries its time) is looked up again every 100 ms for up to `grace` before the answer is
/// no: it was registered a moment ago in another service. Any other id is looked up once, so an
/// unknown or old id costs one query, not a wait.
pub async fn known_within<E, F, Fut>(
    grace: std::time::Duration,
    id: uuid::Uuid,
    mut lookup: F,
) -> Result<bool, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, E>>,
{
    let grace = if minted_within(id, RECENT) {
        grace
    } else {
        std::time::Duration::ZERO
    };
    let until = tokio::time::Instant::now() + grace;
    loop {
        if lookup().await? {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= until {
            return Ok(false);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Whether `id` is a UUIDv7 minted no longer than `within` ago (and not in the future beyond a
/// second of clock skew).
pub fn minted_within(id: uuid::Uuid, within: std::time::Duration) -> bool {
    let Some(ts) = id.get_timestamp() else {
        return false;
    };
    let (secs, nanos) = ts.to_unix();
    let minted = std::time::UNIX_EPOCH + std::time::Duration::new(secs, nanos);
    let now = std::time::SystemTime::now();
    match now.duration_since(minted) {
        Ok(age) => age <= within,
        Err(ahead) => ahead.duration() <= std::time::Duration::from_secs(1),
    }
}
