//! Charts drawn by guichet as SVG: plain geometry computed here, written out by the template
//! (which escapes every label). No script, no chart library, nothing fetched.

/// A rectangle of a bar, in the chart's own units.
#[derive(Debug, Clone)]
pub struct Bar {
    pub x: String,
    pub y: String,
    pub w: String,
    pub h: String,
    /// The series (`s0`, `s1`…), for its colour.
    pub class: String,
    /// What a pointer over it says.
    pub title: String,
}

#[derive(Debug, Clone)]
pub struct Label {
    pub x: String,
    pub y: String,
    pub text: String,
    pub anchor: &'static str,
}

#[derive(Debug, Clone)]
pub struct Chart {
    pub title: String,
    pub width: u32,
    pub height: u32,
    pub bars: Vec<Bar>,
    pub labels: Vec<Label>,
    /// Horizontal guide lines (y) with their value labels.
    pub grid: Vec<(String, Label)>,
    pub legend: Vec<(String, String)>,
    pub empty: bool,
    /// The same numbers as a table, for screen readers and copying.
    pub table: Vec<(String, String)>,
}

fn f(v: f64) -> String {
    format!("{v:.1}")
}

/// A "nice" top for an axis: 1, 2 or 5 times a power of ten, at least `max`.
pub fn nice_max(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(max.log10().floor());
    for step in [1.0, 2.0, 5.0, 10.0] {
        if step * power >= max {
            return step * power;
        }
    }
    10.0 * power
}

/// Stacked columns, one per category (a day), one colour per series.
pub fn columns(
    title: &str,
    series: &[&str],
    data: &[(String, Vec<f64>)],
    fmt: impl Fn(f64) -> String,
) -> Chart {
    let (width, height) = (640u32, 240u32);
    let (left, right, top, bottom) = (44.0, 8.0, 10.0, 28.0);
    let plot_w = f64::from(width) - left - right;
    let plot_h = f64::from(height) - top - bottom;
    let max = data
        .iter()
        .map(|(_, v)| v.iter().sum::<f64>())
        .fold(0.0, f64::max);
    let top_value = nice_max(max);
    let slot = plot_w / data.len().max(1) as f64;
    let bar_w = (slot * 0.7).max(1.0);
    let mut bars = Vec::new();
    let mut labels = Vec::new();
    let every = (data.len() / 8).max(1);
    for (i, (name, values)) in data.iter().enumerate() {
        let x = left + slot * i as f64 + (slot - bar_w) / 2.0;
        let mut y = top + plot_h;
        for (s, v) in values.iter().enumerate() {
            let h = if top_value > 0.0 {
                v / top_value * plot_h
            } else {
                0.0
            };
            y -= h;
            if h > 0.0 {
                bars.push(Bar {
                    x: f(x),
                    y: f(y),
                    w: f(bar_w),
                    h: f(h),
                    class: format!("s{s}"),
                    title: format!("{name}: {} {}", fmt(*v), series.get(s).unwrap_or(&"")),
                });
            }
        }
        if i % every == 0 {
            labels.push(Label {
                x: f(x + bar_w / 2.0),
                y: f(f64::from(height) - 10.0),
                text: name.clone(),
                anchor: "middle",
            });
        }
    }
    let grid = (0..=4)
        .map(|k| {
            let v = top_value * f64::from(k) / 4.0;
            let y = top + plot_h - plot_h * f64::from(k) / 4.0;
            (
                f(y),
                Label {
                    x: f(left - 6.0),
                    y: f(y + 4.0),
                    text: fmt(v),
                    anchor: "end",
                },
            )
        })
        .collect();
    let table = data
        .iter()
        .map(|(name, values)| {
            let parts: Vec<String> = values
                .iter()
                .zip(series)
                .map(|(v, s)| format!("{} {s}", fmt(*v)))
                .collect();
            (name.clone(), parts.join(", "))
        })
        .collect();
    Chart {
        title: title.to_owned(),
        width,
        height,
        empty: max <= 0.0,
        bars,
        labels,
        grid,
        legend: series
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("s{i}"), (*s).to_owned()))
            .collect(),
        table,
    }
}

/// Horizontal bars, one per row (an agent, a number, a category).
pub fn rows(title: &str, data: &[(String, f64)], fmt: impl Fn(f64) -> String) -> Chart {
    let row_h = 26.0;
    let (left, right, top) = (150.0, 90.0, 6.0);
    let width = 640u32;
    let height = (top * 2.0 + row_h * data.len().max(1) as f64) as u32;
    let plot_w = f64::from(width) - left - right;
    let max = data.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    let mut bars = Vec::new();
    let mut labels = Vec::new();
    for (i, (name, v)) in data.iter().enumerate() {
        let y = top + row_h * i as f64;
        let w = if max > 0.0 { v / max * plot_w } else { 0.0 };
        bars.push(Bar {
            x: f(left),
            y: f(y + 4.0),
            w: f(w.max(1.0)),
            h: f(row_h - 8.0),
            class: "s0".into(),
            title: format!("{name}: {}", fmt(*v)),
        });
        let short: String = name.chars().take(22).collect();
        labels.push(Label {
            x: f(left - 8.0),
            y: f(y + row_h / 2.0 + 4.0),
            text: short,
            anchor: "end",
        });
        labels.push(Label {
            x: f(left + w.max(1.0) + 6.0),
            y: f(y + row_h / 2.0 + 4.0),
            text: fmt(*v),
            anchor: "start",
        });
    }
    Chart {
        title: title.to_owned(),
        width,
        height,
        empty: data.is_empty(),
        bars,
        labels,
        grid: Vec::new(),
        legend: Vec::new(),
        table: data.iter().map(|(n, v)| (n.clone(), fmt(*v))).collect(),
    }
}

/// A duration in seconds as people read it.
pub fn duration(seconds: f64) -> String {
    domain::time::Seconds(seconds.round() as i64).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(12.0), 20.0);
        assert_eq!(nice_max(480.0), 500.0);
        assert_eq!(nice_max(1000.0), 1000.0);
    }

    #[test]
    fn stacked_columns_stay_inside_the_plot() {
        let data = vec![
            ("1 Nov".to_owned(), vec![3.0, 2.0]),
            ("2 Nov".to_owned(), vec![0.0, 0.0]),
            ("3 Nov".to_owned(), vec![7.0, 1.0]),
        ];
        let c = columns("Messages", &["in", "out"], &data, |v| format!("{v:.0}"));
        assert!(!c.empty);
        assert_eq!(c.bars.len(), 4, "empty segments are not drawn");
        for b in &c.bars {
            let y: f64 = b.y.parse().expect("y");
            let h: f64 = b.h.parse().expect("h");
            assert!(y >= 10.0 - 1e-6 && y + h <= 212.0 + 1e-6, "{b:?}");
        }
        assert_eq!(c.table[0], ("1 Nov".to_owned(), "3 in, 2 out".to_owned()));
    }

    #[test]
    fn rows_scale_to_the_largest() {
        let c = rows(
            "First response",
            &[("Ana".into(), 60.0), ("Ben".into(), 120.0)],
            duration,
        );
        assert_eq!(c.bars[1].w, "400.0");
        assert_eq!(c.bars[0].w, "200.0");
        assert_eq!(c.table[1].1, "2 min");
        assert!(rows("x", &[], duration).empty);
    }
}
