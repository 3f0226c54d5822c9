//! One paging rule for every list.

use tonic::Status;

use super::*;

/// One rule for every list: `page_size` 0 means the default, at most `MAX_PAGE_SIZE`.
pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 500;

pub fn page_size(field_value: i32) -> Result<i64, Status> {
    match field_value {
        0 => Ok(DEFAULT_PAGE_SIZE),
        n if n < 0 => Err(invalid("page_size", "must not be negative")),
        n => Ok(i64::from(n).min(MAX_PAGE_SIZE)),
    }
}

/// Page tokens are the id of the last item of the previous page (ids are UUIDv7, so ordered by time).
pub fn page_after(token: &str) -> Result<Option<uuid::Uuid>, Status> {
    if token.is_empty() {
        return Ok(None);
    }
    uuid::Uuid::parse_str(token)
        .map(Some)
        .map_err(|_| invalid("page_token", "is not a token this service gave out"))
}

/// The next page's token: the last id when the page came back full.
pub fn next_page_token(ids: &[uuid::Uuid], size: i64) -> String {
    match ids.last() {
        Some(last) if ids.len() as i64 == size => last.to_string(),
        _ => String::new(),
    }
}
