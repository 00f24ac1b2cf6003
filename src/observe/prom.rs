//! The Prometheus text exposition format (version 0.0.4), written by hand:
//! `# HELP` and `# TYPE` lines, then samples, with label values and help
//! text escaped as the format requires.

use std::fmt::Write;

use super::registry::HistogramSnapshot;

/// A metrics page being written.
#[derive(Debug, Default)]
pub struct Text(String, Vec<(String, String)>);

impl Text {
    /// A page whose every sample carries `labels` first.
    pub fn with_labels(labels: &[(&str, &str)]) -> Text {
        Text(String::new(), labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    /// Starts a metric family: its help line and type (`counter`, `gauge`, `histogram`).
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    /// One sample line.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        let common = self.1.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let all: Vec<(&str, &str)> = common.chain(labels.iter().copied()).collect();
        if !all.is_empty() {
            let pairs: Vec<String> = all.iter().map(|(k, v)| format!("{k}=\"{}\"", escape_label(v))).collect();
            let _ = write!(self.0, "{{{}}}", pairs.join(","));
        }
        let _ = writeln!(self.0, " {}", number(value));
    }

    /// A whole histogram family: cumulative buckets, `+Inf`, sum and count.
    pub fn histogram(&mut self, name: &str, help: &str, h: &HistogramSnapshot) {
        self.family(name, "histogram", help);
        let mut cumulative = 0;
        for (bound, n) in h.bounds.iter().zip(&h.counts) {
            cumulative += n;
            self.sample(&format!("{name}_bucket"), &[("le", &number(*bound))], cumulative as f64);
        }
        self.sample(&format!("{name}_bucket"), &[("le", "+Inf")], h.count as f64);
        self.sample(&format!("{name}_sum"), &[], h.sum_seconds);
        self.sample(&format!("{name}_count"), &[], h.count as f64);
    }

    /// The finished page.
    pub fn finish(self) -> String {
        self.0
    }
}

/// Backslash, double quote and line feed escaped, as label values need.
fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Go's float formatting as Prometheus reads it: integers without a point,
/// `+Inf`, `-Inf`, `NaN`.
fn number(v: f64) -> String {
    match v {
        v if v.is_nan() => "NaN".into(),
        v if v == f64::INFINITY => "+Inf".into(),
        v if v == f64::NEG_INFINITY => "-Inf".into(),
        v => format!("{v}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_help_are_escaped() {
        let mut t = Text::default();
        t.family("x_total", "counter", "a \\ b\nc");
        t.sample("x_total", &[("k", "q\"\\\n")], 3.0);
        t.sample("y", &[], 0.25);
        assert_eq!(
            t.finish(),
            "# HELP x_total a \\\\ b\\nc\n# TYPE x_total counter\nx_total{k=\"q\\\"\\\\\\n\"} 3\ny 0.25\n"
        );
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let h = HistogramSnapshot { bounds: vec![0.1, 1.0], counts: vec![2, 1], count: 4, sum_seconds: 7.5 };
        let mut t = Text::default();
        t.histogram("d_seconds", "d", &h);
        let text = t.finish();
        assert!(text.contains(
            "d_seconds_bucket{le=\"0.1\"} 2\nd_seconds_bucket{le=\"1\"} 3\nd_seconds_bucket{le=\"+Inf\"} 4\n"
        ));
        assert!(text.ends_with("d_seconds_sum 7.5\nd_seconds_count 4\n"));
    }
}
