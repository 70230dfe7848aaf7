//! Byte sizes on the command line (`--max-decompressed 4G`) and in hints.

/// Parse a size: a number of bytes, or one with a binary suffix `K`, `M`,
/// `G`, `T` (optionally followed by `iB` or `B`): `4G` is 4 GiB.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, suffix) = t.split_at(digits_end);
    if digits.is_empty() {
        return Err(format!("expected a size such as 512M or 4G, found {s:?}"));
    }
    let shift = match suffix.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => {
            return Err(format!(
                "unknown size suffix in {s:?} (K, M, G or T, as in 512M or 4G)"
            ))
        }
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("size {s:?} does not fit in 64 bits"))?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("size {s:?} does not fit in 64 bits"))
}

/// `bytes` in the largest binary unit that divides it, as `parse_size`
/// reads it back (`4G`, `256M`, `1000`).
pub fn show_size(bytes: u64) -> String {
    for (shift, unit) in [(40, "T"), (30, "G"), (20, "M"), (10, "K")] {
        let step = 1u64 << shift;
        if bytes >= step && bytes.is_multiple_of(step) {
            return format!("{}{unit}", bytes / step);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4G"), Ok(4 << 30));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("").is_err());
        assert!(parse_size("G").is_err());
        assert!(parse_size("4X").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("1.5G").is_err());
        assert!(parse_size("99999999999T").is_err());
        assert!(parse_size("18446744073709551616").is_err());
        for n in [1000, 4 << 30, 256 << 20, 3 << 10, (1 << 20) + 1] {
            assert_eq!(parse_size(&show_size(n)), Ok(n));
        }
        assert_eq!(show_size(256 << 20), "256M");
    }
}
