//! Parsing of the value types feeds.toml uses: durations and sizes.

pub use super::raw::SizeValue;
use std::time::Duration;

/// Parses `"90s"`, `"30m"`, `"1h 30m"`, `"2d"` (humantime syntax).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let d =
        humantime::parse_duration(text.trim()).map_err(|e| format!("{e} (expected e.g. \"30m\", \"2h\", \"1d\")"))?;
    if d.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(d)
}

/// Parses a size: a byte count, or a string such as `"512 KiB"` or `"10MiB"`.
pub fn parse_size(value: &SizeValue) -> Result<u64, String> {
    let n = match value {
        SizeValue::Bytes(n) => u64::try_from(*n).map_err(|_| "must not be negative".to_string())?,
        SizeValue::Text(t) => parse_size_text(t)?,
    };
    if n < 1024 {
        return Err("must be at least 1 KiB".into());
    }
    Ok(n)
}

fn parse_size_text(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: u64 = num.parse().map_err(|_| format!("{text:?} is not a size (expected e.g. \"10 MiB\")"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1024,
        "m" | "mb" => 1_000_000,
        "mib" => 1024 * 1024,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1024 * 1024 * 1024,
        other => {
            return Err(format!("unknown size unit {other:?} (use B, KiB, MiB or GiB)"));
        }
    };
    num.checked_mul(mult).ok_or_else(|| "size too large".to_string())
}
