//! `Handshake`: what a socket's connection request said, in the shape of
//! Node's `socket.handshake` (so it travels between Node and Rust nodes).

use crate::engine::RequestInfo;
use crate::value::{Map, Value};
use serde::{Deserialize, Serialize};
use std::time::SystemTime;

/// The handshake details of a socket.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Handshake {
    /// Request headers, lower-case names; repeated headers joined by `, `.
    pub headers: Map,
    /// When the connection was made, as JavaScript's `Date#toString` prints it.
    pub time: String,
    /// The client's address.
    pub address: String,
    /// Whether the request had an `Origin` header (cross-domain).
    pub xdomain: bool,
    /// Whether the connection was encrypted.
    pub secure: bool,
    /// When the connection was made, in milliseconds since the Unix epoch.
    #[serde(deserialize_with = "lenient_millis")]
    pub issued: u64,
    /// The request URL (path and query).
    pub url: String,
    /// Query parameters.
    pub query: Map,
    /// The auth payload of the CONNECT packet.
    pub auth: Value,
}

impl Handshake {
    pub(crate) fn new(info: &RequestInfo, auth: Value) -> Self {
        let mut headers = Map::new();
        for name in info.headers.keys() {
            let joined = info
                .headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect::<Vec<_>>()
                .join(", ");
            headers.insert(name.as_str().to_owned(), Value::String(joined));
        }
        let mut query = Map::new();
        for (k, v) in &info.query {
            query.insert(k.to_string(), Value::String(v.to_string()));
        }
        let issued = info
            .issued
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Handshake {
            headers,
            time: js_date_string(issued),
            address: info
                .remote_addr
                .map(|a| a.ip().to_string())
                .unwrap_or_default(),
            xdomain: info.headers.contains_key(http::header::ORIGIN),
            secure: info.uri.scheme_str() == Some("https"),
            issued,
            url: info.uri.to_string(),
            query,
            auth,
        }
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .and_then(Value::as_str)
    }

    /// A query parameter's value.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.get(name).and_then(Value::as_str)
    }
}

/// JavaScript numbers may arrive as floats (`1.7e12`).
fn lenient_millis<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = f64::deserialize(d)?;
    Ok(if v.is_finite() && v >= 0.0 {
        v as u64
    } else {
        0
    })
}

/// Formats a UTC time as `Wed Nov 25 2026 10:00:00 GMT+0000 (Coordinated Universal Time)`.
pub(crate) fn js_date_string(unix_ms: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = unix_ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = crate::value::civil_from_days(days);
    format!(
        "{} {} {:02} {} {:02}:{:02}:{:02} GMT+0000 (Coordinated Universal Time)",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        year,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dates_as_javascript_does() {
        assert_eq!(
            js_date_string(0),
            "Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)"
        );
        // new Date(1795600000000).toString() in UTC
        assert_eq!(
            js_date_string(1_795_600_000_000),
            "Wed Nov 25 2026 09:46:40 GMT+0000 (Coordinated Universal Time)"
        );
        assert_eq!(
            js_date_string(951_782_400_000),
            "Tue Feb 29 2000 00:00:00 GMT+0000 (Coordinated Universal Time)"
        );
    }

    #[test]
    fn reads_node_handshakes_with_extra_or_missing_fields() {
        let h: Handshake = serde_json::from_str(
            r#"{"headers":{"set-cookie":["a","b"],"host":"x"},"address":"::1","issued":1.7e12,"auth":{},"extra":1}"#,
        )
        .unwrap();
        assert_eq!(h.header("Host"), Some("x"));
        assert_eq!(h.issued, 1_700_000_000_000);
    }
}
