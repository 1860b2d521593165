//! Values the command line takes with units: sizes (`8MiB`), durations (`90s`, `2m`), rates
//! (`200/min`); a bare number keeps the unit the option always had.

use std::time::Duration;

/// A size in bytes, at least 1: `1048576`, `8MiB`, `512KiB`, `10MB` (decimal), `1GiB`.
pub fn size(s: &str) -> Result<u64, String> {
    match parse_size::parse_size(s.trim()) {
        Ok(n) if n >= 1 => Ok(n),
        Ok(_) => Err("a size of at least 1 byte".into()),
        Err(_) => Err(format!(
            "{s:?} is not a size (such as 1048576, 512KiB, 8MiB)"
        )),
    }
}

/// A duration; a bare number is in seconds: `30`, `90s`, `2m`, `1h 30m`, `500ms`.
pub fn seconds(s: &str) -> Result<Duration, String> {
    duration_in(s, Duration::from_secs)
}

/// Retry delays; a bare number is in milliseconds: `0,3000,5s`; `""` for none.
pub fn delays(s: &str) -> Result<Delays, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| duration_in(p, Duration::from_millis))
        .collect::<Result<Vec<_>, _>>()
        .map(Delays)
}

fn duration_in(s: &str, bare: fn(u64) -> Duration) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u64>() {
        return Ok(bare(n));
    }
    humantime::parse_duration(s)
        .map_err(|_| format!("{s:?} is not a duration (such as 30s, 2m, 1h 30m, 500ms)"))
}

/// A rate as calls per minute: `200`, `200/min`, `200/m`, `3/s`.
pub fn rate(s: &str) -> Result<u32, String> {
    let bad = || format!("{s:?} is not a rate (such as 200/min or 3/s)");
    let (n, per) = s.trim().split_once('/').unwrap_or((s.trim(), "min"));
    let n: u32 = n.trim().parse().map_err(|_| bad())?;
    let per_minute = match per.trim() {
        "min" | "m" | "minute" => Some(n),
        "s" | "sec" | "second" => n.checked_mul(60),
        _ => None,
    };
    match per_minute {
        Some(n) if n >= 1 => Ok(n),
        _ => Err(bad()),
    }
}

/// A whole number of at least 1.
pub fn positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{s:?} is not a whole number of at least 1")),
    }
}

/// Retry delays.
#[derive(Clone, Debug)]
pub struct Delays(pub Vec<Duration>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_suffixes() {
        assert_eq!(size("1048576"), Ok(1 << 20));
        assert_eq!(size("8MiB"), Ok(8 << 20));
        assert_eq!(size("512 KiB"), Ok(512 << 10));
        assert_eq!(size("10MB"), Ok(10_000_000));
        assert!(size("0").is_err());
        assert!(size("lots").is_err());
    }

    #[test]
    fn durations_take_suffixes_and_bare_numbers_keep_their_unit() {
        assert_eq!(seconds("30"), Ok(Duration::from_secs(30)));
        assert_eq!(seconds("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(seconds("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(seconds("0"), Ok(Duration::ZERO));
        assert!(seconds("soon").is_err());
        assert_eq!(delays("").unwrap().0, Vec::<Duration>::new());
        let d = delays("0, 100,2s").unwrap().0;
        assert_eq!(d, [0, 100, 2000].map(Duration::from_millis));
        assert!(delays("1,x").is_err());
    }

    #[test]
    fn rates_are_per_minute() {
        assert_eq!(rate("200"), Ok(200));
        assert_eq!(rate("200/min"), Ok(200));
        assert_eq!(rate("3/s"), Ok(180));
        assert!(rate("0/min").is_err());
        assert!(rate("5/h").is_err());
        assert!(rate("fast").is_err());
    }
}
