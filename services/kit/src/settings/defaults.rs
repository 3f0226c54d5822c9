//! The built-in value of each setting a section may leave out (serde's `default = ...`).

pub fn max_connections() -> u32 {
    16
}
pub fn acquire_timeout_ms() -> u64 {
    5_000
}
pub fn statement_timeout_ms() -> u64 {
    30_000
}
pub fn idle_in_transaction_timeout_ms() -> u64 {
    60_000
}
pub fn duplicate_window_secs() -> u64 {
    600
}
pub fn stream_replicas() -> usize {
    1
}
pub fn max_deliver() -> i64 {
    8
}
pub fn backoff_ms() -> Vec<u64> {
    vec![200, 1_000, 5_000, 15_000, 60_000]
}
pub fn ack_wait_ms() -> u64 {
    30_000
}
pub fn relay_batch() -> i64 {
    256
}
pub fn relay_poll_ms() -> u64 {
    500
}
pub fn relay_linger_ms() -> u64 {
    5
}
pub fn relay_standby_retry_ms() -> u64 {
    1_000
}
pub fn consumer_batch() -> usize {
    256
}
pub fn consumer_linger_ms() -> u64 {
    5
}
pub fn algorithm() -> String {
    "HS256".into()
}
pub fn issuer() -> String {
    "redsupply".into()
}
pub fn token_ttl_secs() -> u64 {
    3_600
}
pub fn max_token_lifetime_secs() -> u64 {
    86_400
}
pub fn jwks_refresh_secs() -> u64 {
    300
}
pub fn log_format() -> String {
    "text".into()
}
pub fn log_filter() -> String {
    "info".into()
}
