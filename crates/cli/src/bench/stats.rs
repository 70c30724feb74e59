//! Summary statistics of repeated measurements: llama-bench reports mean ± sample standard
//! deviation of tokens/s; the median is added because a shared machine's outliers skew the mean.

/// Mean, sample standard deviation and median of a set of samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1 in the denominator, as llama-bench); 0 for one sample.
    pub sd: f64,
    /// Middle value (mean of the two middle values for an even count).
    pub median: f64,
}

/// Summarises `xs`; all zeros when there are none.
pub fn summarize(xs: &[f64]) -> Summary {
    let n = xs.len();
    if n == 0 {
        return Summary {
            mean: 0.0,
            sd: 0.0,
            median: 0.0,
        };
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    let sd = if n > 1 {
        (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    Summary { mean, sd, median }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_known_samples() {
        let s = summarize(&[1.0, 2.0, 3.0, 10.0]);
        assert_eq!(s.mean, 4.0);
        assert_eq!(s.median, 2.5);
        assert!((s.sd - 4.0826).abs() < 1e-3);
        assert_eq!(summarize(&[7.0]).sd, 0.0);
        assert_eq!(summarize(&[]).mean, 0.0);
    }
}
