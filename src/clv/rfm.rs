//! The RFM summary a buy-till-you-die model is fitted on: per customer the number of repeat
//! purchase days x, the time of the last purchase t_x and the age T (both measured from the
//! first purchase), and the mean value of the repeat purchases. Purchases of one customer on
//! one day count as one transaction with their summed value (as in Fader, Hardie & Lee).

use std::collections::HashMap;

/// One purchase: a customer, a day (days since 1970-01-01) and its value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Purchase {
    pub customer_id: i64,
    pub day: i64,
    pub value: f64,
}

/// The unit of x's times t_x and T.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeUnit {
    Days,
    Weeks,
}

impl TimeUnit {
    /// Days in one unit.
    pub(crate) fn days(self) -> f64 {
        match self {
            TimeUnit::Days => 1.0,
            TimeUnit::Weeks => 7.0,
        }
    }

    /// "days" or "weeks".
    pub(crate) fn name(self) -> &'static str {
        match self {
            TimeUnit::Days => "days",
            TimeUnit::Weeks => "weeks",
        }
    }
}

/// How to cut the purchases into a calibration period and a holdout.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Periods {
    pub unit: TimeUnit,
    /// Last day of the calibration period (inclusive); `None` = the last purchase day.
    pub calibration_end: Option<i64>,
    /// Last day of the holdout (inclusive); `None` = the last purchase day. Only used with a
    /// calibration end.
    pub observation_end: Option<i64>,
}

/// Per-customer summary, parallel vectors sorted by customer id.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Rfm {
    pub customer_id: Vec<i64>,
    /// x: repeat purchase days in the calibration period.
    pub frequency: Vec<f64>,
    /// t_x: time from the first to the last calibration purchase.
    pub recency: Vec<f64>,
    /// T: time from the first purchase to the calibration end.
    pub age: Vec<f64>,
    /// Mean value of the repeat purchase days (0 when x = 0).
    pub monetary_value: Vec<f64>,
    /// Holdout purchase days and their mean value, with a calibration end.
    pub holdout: Option<Holdout>,
}

/// What each customer did after the calibration end.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Holdout {
    /// Length of the holdout in time units (the same for every customer).
    pub duration: f64,
    pub frequency: Vec<f64>,
    pub monetary_value: Vec<f64>,
}

/// What the summary left out, for the report.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct RfmCounts {
    pub purchases: usize,
    pub purchase_days: usize,
    /// Customers whose first purchase falls after the calibration end (not in the cohort).
    pub first_purchase_after_calibration: usize,
    /// Purchases after the observation end (ignored).
    pub after_observation_end: usize,
}

impl Rfm {
    pub(crate) fn len(&self) -> usize {
        self.customer_id.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.customer_id.is_empty()
    }
}

/// Builds the RFM summary. `purchases` may come in any order; values must be positive (the
/// readers check that). Returns an error message when nothing is left to summarise.
pub(crate) fn summarise(
    purchases: &[Purchase],
    periods: &Periods,
) -> Result<(Rfm, RfmCounts), String> {
    if purchases.is_empty() {
        return Err("there are no purchases to summarise".into());
    }
    let last_day = purchases.iter().map(|p| p.day).max().unwrap_or(0);
    let calibration_end = periods.calibration_end.unwrap_or(last_day);
    let observation_end = match periods.calibration_end {
        Some(_) => periods.observation_end.unwrap_or(last_day),
        None => calibration_end,
    };
    if observation_end < calibration_end {
        return Err(format!(
            "the observation end {} is before the calibration end {}",
            crate::clv::format_day(observation_end),
            crate::clv::format_day(calibration_end)
        ));
    }
    let mut counts = RfmCounts {
        purchases: purchases.len(),
        ..RfmCounts::default()
    };
    // Sum values per (customer, day).
    let mut days: Vec<(i64, i64, f64)> = Vec::with_capacity(purchases.len());
    {
        let mut sorted: Vec<&Purchase> = purchases
            .iter()
            .filter(|p| {
                let keep = p.day <= observation_end;
                if !keep {
                    counts.after_observation_end += 1;
                }
                keep
            })
            .collect();
        sorted.sort_unstable_by_key(|p| (p.customer_id, p.day));
        for p in sorted {
            match days.last_mut() {
                Some(last) if last.0 == p.customer_id && last.1 == p.day => last.2 += p.value,
                _ => days.push((p.customer_id, p.day, p.value)),
            }
        }
    }
    counts.purchase_days = days.len();
    let unit = periods.unit.days();
    let with_holdout = periods.calibration_end.is_some();
    let mut rfm = Rfm::default();
    let mut holdout = Holdout {
        duration: (observation_end - calibration_end) as f64 / unit,
        ..Holdout::default()
    };
    let mut start = 0;
    while start < days.len() {
        let customer = days[start].0;
        let mut end = start;
        while end < days.len() && days[end].0 == customer {
            end += 1;
        }
        let own = &days[start..end];
        start = end;
        let first = own[0].1;
        if first > calibration_end {
            counts.first_purchase_after_calibration += 1;
            continue;
        }
        let split = own.partition_point(|d| d.1 <= calibration_end);
        let (calibration, after) = own.split_at(split);
        let repeats = &calibration[1..];
        let last = calibration[calibration.len() - 1].1;
        rfm.customer_id.push(customer);
        rfm.frequency.push(repeats.len() as f64);
        rfm.recency.push((last - first) as f64 / unit);
        rfm.age.push((calibration_end - first) as f64 / unit);
        rfm.monetary_value.push(mean_value(repeats));
        if with_holdout {
            holdout.frequency.push(after.len() as f64);
            holdout.monetary_value.push(mean_value(after));
        }
    }
    if rfm.is_empty() {
        return Err(format!(
            "no customer made a purchase on or before the calibration end {}",
            crate::clv::format_day(calibration_end)
        ));
    }
    if with_holdout {
        rfm.holdout = Some(holdout);
    }
    Ok((rfm, counts))
}

fn mean_value(days: &[(i64, i64, f64)]) -> f64 {
    if days.is_empty() {
        0.0
    } else {
        days.iter().map(|d| d.2).sum::<f64>() / days.len() as f64
    }
}

/// Groups identical (x, t_x, T) rows: the likelihood only needs each distinct row once with
/// its count (day-resolution data repeats rows a lot: every x = 0 customer of one cohort day).
pub(crate) fn compress(frequency: &[f64], recency: &[f64], age: &[f64]) -> CompressedRfm {
    let mut index: HashMap<(u64, u64, u64), usize> = HashMap::new();
    let mut out = CompressedRfm::default();
    for i in 0..frequency.len() {
        let key = (
            frequency[i].to_bits(),
            recency[i].to_bits(),
            age[i].to_bits(),
        );
        match index.get(&key) {
            Some(&row) => out.weight[row] += 1.0,
            None => {
                index.insert(key, out.weight.len());
                out.frequency.push(frequency[i]);
                out.recency.push(recency[i]);
                out.age.push(age[i]);
                out.weight.push(1.0);
            }
        }
    }
    out
}

/// Distinct (x, t_x, T) rows with their counts.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct CompressedRfm {
    pub frequency: Vec<f64>,
    pub recency: Vec<f64>,
    pub age: Vec<f64>,
    pub weight: Vec<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(customer_id: i64, day: i64, value: f64) -> Purchase {
        Purchase {
            customer_id,
            day,
            value,
        }
    }

    #[test]
    fn same_day_purchases_merge_and_times_count_from_the_first() {
        let purchases = [
            p(7, 0, 10.0),
            p(7, 0, 5.0), // same day: one transaction of 15
            p(7, 14, 20.0),
            p(7, 28, 30.0),
            p(7, 28, 10.0),
            p(9, 7, 4.0), // one purchase only: x = 0
        ];
        let periods = Periods {
            unit: TimeUnit::Weeks,
            calibration_end: None,
            observation_end: None,
        };
        let (rfm, counts) = summarise(&purchases, &periods).unwrap();
        assert_eq!(rfm.customer_id, vec![7, 9]);
        assert_eq!(rfm.frequency, vec![2.0, 0.0]);
        assert_eq!(rfm.recency, vec![4.0, 0.0]);
        assert_eq!(rfm.age, vec![4.0, 3.0]);
        // Repeat days 20 and 40; the first day's 15 is not a repeat purchase.
        assert_eq!(rfm.monetary_value, vec![30.0, 0.0]);
        assert_eq!(counts.purchase_days, 4);
        assert!(rfm.holdout.is_none());
    }

    #[test]
    fn calibration_end_splits_off_a_holdout() {
        let purchases = [
            p(1, 0, 10.0),
            p(1, 5, 10.0),
            p(1, 12, 6.0),
            p(1, 15, 8.0),
            p(2, 3, 1.0),
            p(3, 11, 9.0), // first purchase after the calibration end: not in the cohort
        ];
        let periods = Periods {
            unit: TimeUnit::Days,
            calibration_end: Some(10),
            observation_end: Some(14),
        };
        let (rfm, counts) = summarise(&purchases, &periods).unwrap();
        assert_eq!(rfm.customer_id, vec![1, 2]);
        assert_eq!(rfm.frequency, vec![1.0, 0.0]);
        assert_eq!(rfm.recency, vec![5.0, 0.0]);
        assert_eq!(rfm.age, vec![10.0, 7.0]);
        let holdout = rfm.holdout.unwrap();
        assert_eq!(holdout.duration, 4.0);
        // Day 15 is after the observation end.
        assert_eq!(holdout.frequency, vec![1.0, 0.0]);
        assert_eq!(holdout.monetary_value, vec![6.0, 0.0]);
        assert_eq!(counts.first_purchase_after_calibration, 1);
        assert_eq!(counts.after_observation_end, 1);
    }

    #[test]
    fn empty_input_is_an_error() {
        let periods = Periods {
            unit: TimeUnit::Days,
            calibration_end: None,
            observation_end: None,
        };
        assert!(summarise(&[], &periods).is_err());
    }

    #[test]
    fn compress_counts_duplicates() {
        let c = compress(&[0.0, 0.0, 1.0], &[0.0, 0.0, 2.0], &[5.0, 5.0, 5.0]);
        assert_eq!(c.weight, vec![2.0, 1.0]);
        assert_eq!(c.frequency, vec![0.0, 1.0]);
    }
}
