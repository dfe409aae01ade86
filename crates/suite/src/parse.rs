//! Value parsers for options (`#[arg(value_parser = rift_suite::parse::probability)]`), so
//! that every suite refuses bad numbers with the same words.

/// A positive, finite number of seconds.
pub fn positive_f64(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x > 0.0 && x.is_finite() => Ok(x),
        _ => Err(format!("expected a positive number of seconds, got {s:?}")),
    }
}

/// A finite number >= 0.
pub fn non_negative_f64(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x >= 0.0 && x.is_finite() => Ok(x),
        _ => Err(format!("expected a number >= 0, got {s:?}")),
    }
}

/// A probability, between 0 and 1.
pub fn probability(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err(format!("expected a probability between 0 and 1, got {s:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_out_of_range() {
        assert_eq!(positive_f64("1.5"), Ok(1.5));
        assert!(positive_f64("0").is_err());
        assert!(positive_f64("inf").is_err());
        assert!(positive_f64("-3").is_err());
        assert_eq!(non_negative_f64("0"), Ok(0.0));
        assert!(non_negative_f64("NaN").is_err());
        assert_eq!(probability("1"), Ok(1.0));
        assert!(probability("1.01").is_err());
        assert!(probability("x").is_err());
    }
}
