//! Synthetic data generator behind `fluz generate`.
//!
//! Writes the three inputs fluz ingests, in the exact formats of the real public files, so that
//! the whole pipeline can run (and be benchmarked) at any size without the real data:
//!
//! - `online_retail.csv` / `online_retail.csv.gz`: UCI Online Retail lines (`retail.rs`, its
//!   products in `catalogue.rs`);
//! - `facebook_combined.txt`: a SNAP-style undirected edge list (`social.rs`);
//! - `yelp_academic_dataset_business.json`: Yelp business JSON lines (`merchants.rs`).
//!
//! Output depends only on [`SynthParams`]: the same parameters give the same bytes whatever the
//! rayon thread count, because every random choice comes from an RNG seeded by
//! `(seed, stream name, index)` and parallel work is always reassembled in index order.
//!
//! Defaults when a count is `None` (kept simple so `fluz generate --customers N --seed S`
//! reproduces the bundled sample): merchants = `max(300, customers / 2)`,
//! social nodes = `max(100, customers)`.

mod catalogue;
mod merchants;
mod retail;
mod social;

use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use anyhow::Context;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// File name of the retail lines when written as plain CSV.
const RETAIL_CSV: &str = "online_retail.csv";
/// File name of the retail lines when written as gzip-compressed CSV.
const RETAIL_CSV_GZ: &str = "online_retail.csv.gz";
/// File name of the social edge list (as SNAP names it).
const SOCIAL_TXT: &str = "facebook_combined.txt";
/// File name of the merchant catalogue (as Yelp names it).
const MERCHANTS_JSON: &str = "yelp_academic_dataset_business.json";

/// Merchant count never goes below this, so small runs still have a usable catalogue.
const MIN_DEFAULT_MERCHANTS: usize = 300;
/// Social node count never goes below this by default, so the graph keeps a heavy tail.
const MIN_DEFAULT_SOCIAL_NODES: usize = 100;
/// Largest accepted customer count (≈ 1.2 billion retail lines, ≈ 100 GB of CSV).
const MAX_CUSTOMERS: usize = 10_000_000;
/// Largest accepted merchant or node count; the graph needs ≈ 550 bytes of memory per node.
const MAX_NODES: usize = 10_000_000;

/// How the retail file is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RetailFormat {
    /// Plain UTF-8 CSV (`online_retail.csv`).
    Csv,
    /// Gzip-compressed CSV with mtime 0 (`online_retail.csv.gz`).
    CsvGz,
}

/// What to generate. `None` counts take the documented defaults (see the module docs).
#[derive(Clone, Debug)]
pub(crate) struct SynthParams {
    /// Number of identified customers (CustomerID 12346, 12347, …).
    pub customers: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Plain or gzip-compressed retail CSV.
    pub retail_format: RetailFormat,
    /// Number of merchants; default `max(300, customers / 2)`.
    pub merchants: Option<usize>,
    /// Number of social-graph nodes; default `max(100, customers)`.
    pub social_nodes: Option<usize>,
}

/// What [`generate`] wrote.
#[derive(Clone, Debug)]
pub(crate) struct SynthSummary {
    /// Path of the retail CSV (or CSV.gz).
    pub retail_path: PathBuf,
    /// Retail data lines written (header excluded).
    pub retail_lines: usize,
    /// Path of the social edge list.
    pub social_path: PathBuf,
    /// Edges written.
    pub social_edges: usize,
    /// Path of the merchant JSON lines.
    pub merchants_path: PathBuf,
    /// Merchants written.
    pub merchants: usize,
}

/// A parameter that cannot produce a valid data set.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum SynthError {
    /// `customers` is 0 or too large.
    #[error("customers must be between 1 and {max}, got {got}")]
    Customers {
        /// Value given.
        got: usize,
        /// Largest accepted value.
        max: usize,
    },
    /// `merchants` is below 2 (the two adversarial names must fit) or too large.
    #[error("merchants must be between 2 and {max}, got {got}")]
    Merchants {
        /// Value given.
        got: usize,
        /// Largest accepted value.
        max: usize,
    },
    /// `social_nodes` is below 2 (no edge possible) or too large.
    #[error("social_nodes must be between 2 and {max}, got {got}")]
    SocialNodes {
        /// Value given.
        got: usize,
        /// Largest accepted value.
        max: usize,
    },
}

/// Counts after defaults are applied and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ResolvedCounts {
    customers: usize,
    merchants: usize,
    social_nodes: usize,
}

impl SynthParams {
    /// Applies the default derivation rules and validates every count.
    fn resolve(&self) -> Result<ResolvedCounts, SynthError> {
        if self.customers == 0 || self.customers > MAX_CUSTOMERS {
            return Err(SynthError::Customers {
                got: self.customers,
                max: MAX_CUSTOMERS,
            });
        }
        let merchants = self
            .merchants
            .unwrap_or_else(|| MIN_DEFAULT_MERCHANTS.max(self.customers / 2));
        if !(2..=MAX_NODES).contains(&merchants) {
            return Err(SynthError::Merchants {
                got: merchants,
                max: MAX_NODES,
            });
        }
        let social_nodes = self
            .social_nodes
            .unwrap_or_else(|| MIN_DEFAULT_SOCIAL_NODES.max(self.customers));
        if !(2..=MAX_NODES).contains(&social_nodes) {
            return Err(SynthError::SocialNodes {
                got: social_nodes,
                max: MAX_NODES,
            });
        }
        Ok(ResolvedCounts {
            customers: self.customers,
            merchants,
            social_nodes,
        })
    }
}

/// Generates the three files into `out_dir` (created if missing).
///
/// Each file is written to a hidden temporary name and renamed into place, so an interrupted
/// run never leaves a truncated file under the real name.
pub(crate) fn generate(params: &SynthParams, out_dir: &Path) -> anyhow::Result<SynthSummary> {
    let counts = params.resolve()?;
    fs::create_dir_all(out_dir)
        .with_context(|| format!("failed to create {}", out_dir.display()))?;
    let retail_path = out_dir.join(match params.retail_format {
        RetailFormat::Csv => RETAIL_CSV,
        RetailFormat::CsvGz => RETAIL_CSV_GZ,
    });
    let social_path = out_dir.join(SOCIAL_TXT);
    let merchants_path = out_dir.join(MERCHANTS_JSON);
    let seed = params.seed;

    // The retail file dominates the run time and uses every core; the social graph is built
    // sequentially, so running it alongside keeps that core from idling.
    let (retail, (social, merchants)) = rayon::join(
        || {
            write_atomically(&retail_path, |file| match params.retail_format {
                RetailFormat::Csv => retail::write_retail(counts.customers, seed, file),
                RetailFormat::CsvGz => {
                    let mut gz = flate2::GzBuilder::new()
                        .mtime(0)
                        .write(file, flate2::Compression::default());
                    let lines = retail::write_retail(counts.customers, seed, &mut gz)?;
                    gz.try_finish()?;
                    Ok(lines)
                }
            })
        },
        || {
            rayon::join(
                || {
                    write_atomically(&social_path, |file| {
                        social::write_social(counts.social_nodes, seed, file)
                    })
                },
                || {
                    write_atomically(&merchants_path, |file| {
                        merchants::write_merchants(counts.merchants, seed, file)
                    })
                },
            )
        },
    );
    Ok(SynthSummary {
        retail_lines: retail?,
        retail_path,
        social_edges: social?,
        social_path,
        merchants: merchants?,
        merchants_path,
    })
}

/// Writes `path` atomically (the one writer, `fsutil`), with `write` counting what it wrote.
fn write_atomically<F>(path: &Path, write: F) -> anyhow::Result<usize>
where
    F: FnOnce(&mut BufWriter<File>) -> io::Result<usize>,
{
    crate::fsutil::write_atomic_with(path, |file| Ok(write(file)?))
}

/// Seed of one independent random stream: `(seed, stream, index)` → 64 bits.
///
/// FNV-1a over the stream name keeps streams with different names apart; SplitMix64
/// finalisers spread neighbouring seeds and indices over the whole state space.
pub(crate) fn stream_seed(seed: u64, stream: &str, index: u64) -> u64 {
    let hash = crate::hash::fnv1a64(stream.as_bytes());
    splitmix64(splitmix64(hash ^ seed) ^ index)
}

/// One RNG per `(seed, stream, index)`.
pub(crate) fn stream_rng(seed: u64, stream: &str, index: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(stream_seed(seed, stream, index))
}

/// SplitMix64 finaliser (Steele, Lea & Flood 2014).
pub(crate) fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Standard normal draw (Box–Muller; rand 0.8 alone has no normal distribution).
pub(crate) fn standard_normal<R: Rng>(rng: &mut R) -> f64 {
    // 1 − u lies in (0, 1], so the logarithm is finite.
    let u1: f64 = 1.0 - rng.gen::<f64>();
    let u2: f64 = rng.gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Log-normal draw given its median and the standard deviation of its logarithm.
pub(crate) fn log_normal<R: Rng>(rng: &mut R, median: f64, sigma: f64) -> f64 {
    median * (sigma * standard_normal(rng)).exp()
}

/// Index drawn from a cumulative weight table (last entry = total weight).
pub(crate) fn pick_cumulative<R: Rng>(rng: &mut R, cumulative: &[f64]) -> usize {
    let total = cumulative.last().copied().unwrap_or(0.0);
    let target = rng.gen::<f64>() * total;
    cumulative
        .partition_point(|&c| c <= target)
        .min(cumulative.len().saturating_sub(1))
}

/// Running sums of `weights`, for [`pick_cumulative`].
pub(crate) fn cumulative(weights: impl IntoIterator<Item = f64>) -> Vec<f64> {
    weights
        .into_iter()
        .scan(0.0, |sum, w| {
            *sum += w;
            Some(*sum)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, HashSet};
    use std::io::Read;

    fn params(customers: usize, seed: u64, format: RetailFormat) -> SynthParams {
        SynthParams {
            customers,
            seed,
            retail_format: format,
            merchants: None,
            social_nodes: None,
        }
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("fluz-synth-test-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn read_retail(path: &Path) -> String {
        let mut text = String::new();
        let file = File::open(path).expect("open retail");
        if path.extension().is_some_and(|e| e == "gz") {
            flate2::read::GzDecoder::new(file)
                .read_to_string(&mut text)
                .expect("gunzip");
        } else {
            io::BufReader::new(file)
                .read_to_string(&mut text)
                .expect("read");
        }
        text
    }

    /// Splits one CSV record with minimal quoting (the only quoting the writer uses).
    fn split_csv(line: &str) -> Vec<String> {
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                (true, '"') => quoted = false,
                (false, '"') if field.is_empty() => quoted = true,
                (false, ',') => fields.push(std::mem::take(&mut field)),
                _ => field.push(c),
            }
        }
        fields.push(field);
        fields
    }

    #[test]
    fn defaults_follow_the_documented_rules() {
        let small = params(500, 1, RetailFormat::Csv).resolve().expect("valid");
        assert_eq!((small.merchants, small.social_nodes), (300, 500));
        let tiny = params(10, 1, RetailFormat::Csv).resolve().expect("valid");
        assert_eq!((tiny.merchants, tiny.social_nodes), (300, 100));
        let big = params(100_000, 1, RetailFormat::Csv)
            .resolve()
            .expect("valid");
        assert_eq!((big.merchants, big.social_nodes), (50_000, 100_000));
    }

    #[test]
    fn zero_customers_is_rejected() {
        let err = params(0, 1, RetailFormat::Csv).resolve().unwrap_err();
        assert_eq!(
            err,
            SynthError::Customers {
                got: 0,
                max: MAX_CUSTOMERS
            }
        );
        assert!(err.to_string().contains("customers"));
    }

    #[test]
    fn one_merchant_is_rejected() {
        let mut p = params(5, 1, RetailFormat::Csv);
        p.merchants = Some(1);
        assert!(matches!(
            p.resolve(),
            Err(SynthError::Merchants { got: 1, .. })
        ));
    }

    #[test]
    fn one_social_node_is_rejected() {
        let mut p = params(5, 1, RetailFormat::Csv);
        p.social_nodes = Some(1);
        assert!(matches!(
            p.resolve(),
            Err(SynthError::SocialNodes { got: 1, .. })
        ));
    }

    #[test]
    fn stream_seeds_differ_by_name_seed_and_index() {
        let base = stream_seed(42, "retail", 0);
        assert_ne!(base, stream_seed(42, "retail", 1));
        assert_ne!(base, stream_seed(43, "retail", 0));
        assert_ne!(base, stream_seed(42, "social", 0));
    }

    #[test]
    fn output_is_identical_across_runs_and_thread_counts() {
        let p = params(120, 7, RetailFormat::CsvGz);
        let run = |threads: usize, tag: &str| {
            let dir = temp_dir(tag);
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool");
            let summary = pool.install(|| generate(&p, &dir)).expect("generate");
            let bytes = [
                &summary.retail_path,
                &summary.social_path,
                &summary.merchants_path,
            ]
            .map(|path| fs::read(path).expect("read output"));
            let _ = fs::remove_dir_all(&dir);
            bytes
        };
        let one = run(1, "det1");
        let three = run(3, "det3");
        let again = run(3, "det3b");
        assert_eq!(one, three);
        assert_eq!(three, again);
    }

    #[test]
    fn different_seeds_give_different_data() {
        let a = temp_dir("seed-a");
        let b = temp_dir("seed-b");
        let sa = generate(&params(30, 1, RetailFormat::Csv), &a).expect("a");
        let sb = generate(&params(30, 2, RetailFormat::Csv), &b).expect("b");
        assert_ne!(
            fs::read(&sa.retail_path).expect("a"),
            fs::read(&sb.retail_path).expect("b")
        );
        let _ = fs::remove_dir_all(&a);
        let _ = fs::remove_dir_all(&b);
    }

    /// Rows left after each cleaning step of SPEC §3, computed from the written text.
    fn cleaning_counts(text: &str) -> Vec<usize> {
        let rows: Vec<Vec<String>> = text.lines().skip(1).map(split_csv).collect();
        let mut counts = vec![rows.len()];
        let step1: Vec<&Vec<String>> = rows.iter().filter(|r| !r[6].is_empty()).collect();
        counts.push(step1.len());
        let step2: Vec<_> = step1
            .into_iter()
            .filter(|r| !r[0].starts_with('C'))
            .collect();
        counts.push(step2.len());
        let step3: Vec<_> = step2
            .into_iter()
            .filter(|r| r[3].parse::<i64>().expect("quantity") > 0)
            .collect();
        counts.push(step3.len());
        let step4: Vec<_> = step3
            .into_iter()
            .filter(|r| r[5].parse::<f64>().expect("price") > 0.0)
            .collect();
        counts.push(step4.len());
        let mut seen = HashSet::new();
        counts.push(step4.into_iter().filter(|r| seen.insert(*r)).count());
        counts
    }

    #[test]
    fn every_cleaning_step_removes_lines_even_for_one_customer() {
        for customers in [1, 500] {
            let dir = temp_dir(&format!("clean{customers}"));
            let summary =
                generate(&params(customers, 42, RetailFormat::Csv), &dir).expect("generate");
            let counts = cleaning_counts(&read_retail(&summary.retail_path));
            assert_eq!(counts[0], summary.retail_lines);
            for step in 1..counts.len() {
                assert!(
                    counts[step] < counts[step - 1],
                    "step {step} removed nothing for {customers} customers: {counts:?}"
                );
            }
            let _ = fs::remove_dir_all(&dir);
        }
    }

    #[test]
    fn retail_csv_has_the_real_layout() {
        let dir = temp_dir("layout");
        let summary = generate(&params(200, 3, RetailFormat::CsvGz), &dir).expect("generate");
        let raw = fs::read(&summary.retail_path).expect("read");
        // gzip magic, deflate, mtime 0
        assert_eq!(&raw[..4], &[0x1f, 0x8b, 8, 0]);
        assert_eq!(&raw[4..8], &[0, 0, 0, 0]);
        let text = read_retail(&summary.retail_path);
        assert!(!text.contains('\r'));
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some(
                "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
            )
        );
        let mut description_of: BTreeMap<String, String> = BTreeMap::new();
        let mut countries = HashSet::new();
        let mut quoted = 0;
        let mut n = 0;
        for line in lines {
            n += 1;
            if line.contains('"') {
                quoted += 1;
            }
            let f = split_csv(line);
            assert_eq!(f.len(), 8, "{line}");
            let invoice = f[0].trim_start_matches(['C', 'A']);
            assert!(invoice.len() >= 6 && invoice.bytes().all(|b| b.is_ascii_digit()));
            f[3].parse::<i64>().expect("integer quantity");
            // M/D/YYYY H:MM within 2010-12-01 .. 2011-12-09
            let (date, time) = f[4].split_once(' ').expect("date and time");
            let parts: Vec<u32> = date.split('/').map(|p| p.parse().expect("num")).collect();
            assert_eq!(parts.len(), 3);
            let ymd = (parts[2], parts[0], parts[1]);
            assert!(((2010, 12, 1)..=(2011, 12, 9)).contains(&ymd), "{line}");
            let (h, m) = time.split_once(':').expect("H:MM");
            assert!(!h.starts_with('0') || h == "0");
            assert_eq!(m.len(), 2);
            // shortest decimal: no trailing zero after the point, no trailing point
            let price = &f[5];
            price.parse::<f64>().expect("price");
            if price.contains('.') {
                assert!(!price.ends_with('0') && !price.ends_with('.'), "{price}");
            }
            if !f[6].is_empty() {
                let id: u32 = f[6].parse().expect("integer id");
                assert!(id >= 12346);
            }
            countries.insert(f[7].clone());
            // a consistent description per regular code (adjustments may differ, as in the
            // real file, and only in lines without a customer)
            if !f[6].is_empty() {
                let known = description_of.entry(f[1].clone()).or_insert(f[2].clone());
                assert_eq!(known, &f[2], "code {} has two descriptions", f[1]);
            }
        }
        assert_eq!(n, summary.retail_lines);
        assert!(quoted > 0, "no description needed quoting");
        assert!(countries.contains("United Kingdom") && countries.len() > 5);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn social_edges_are_sorted_unique_and_cover_all_nodes() {
        let dir = temp_dir("social");
        let mut p = params(50, 9, RetailFormat::Csv);
        p.social_nodes = Some(300);
        let summary = generate(&p, &dir).expect("generate");
        let text = fs::read_to_string(&summary.social_path).expect("read");
        let mut previous = None;
        let mut nodes = HashSet::new();
        for line in text.lines() {
            let (a, b) = line.split_once(' ').expect("a b");
            let (a, b): (u32, u32) = (a.parse().expect("a"), b.parse().expect("b"));
            assert!(a < b);
            assert!(previous < Some((a, b)), "not strictly increasing at {line}");
            previous = Some((a, b));
            nodes.insert(a);
            nodes.insert(b);
        }
        assert_eq!(text.lines().count(), summary.social_edges);
        assert_eq!(nodes.len(), 300);
        assert_eq!(nodes.iter().max(), Some(&299));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn merchants_parse_and_include_the_adversarial_names() {
        let dir = temp_dir("merchants");
        let mut p = params(20, 5, RetailFormat::Csv);
        p.merchants = Some(400);
        let summary = generate(&p, &dir).expect("generate");
        let text = fs::read_to_string(&summary.merchants_path).expect("read");
        let mut names = HashSet::new();
        let mut shopping = 0;
        let mut ids = HashSet::new();
        for line in text.lines() {
            let value: serde_json::Value = serde_json::from_str(line).expect("json line");
            let object = value.as_object().expect("object");
            assert_eq!(object.len(), 14);
            let id = object["business_id"].as_str().expect("id");
            assert_eq!(id.len(), 22);
            assert!(id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            assert!(ids.insert(id.to_owned()));
            let stars = object["stars"].as_f64().expect("stars");
            assert!((1.0..=5.0).contains(&stars) && (stars * 2.0).fract() == 0.0);
            let name = object["name"].as_str().expect("name").to_owned();
            if let Some(categories) = object["categories"].as_str() {
                if categories.split(", ").any(|c| c == "Shopping") {
                    shopping += 1;
                    names.insert(name.clone());
                }
            }
        }
        assert_eq!(ids.len(), 400);
        assert!(names.contains("<img src=x onerror=alert(1)>"));
        assert!(names.contains("'); drop table transactions; --"));
        assert!(
            (60..=160).contains(&shopping),
            "{shopping} shopping merchants"
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn two_merchants_are_both_adversarial() {
        let dir = temp_dir("two-merchants");
        let mut p = params(3, 5, RetailFormat::Csv);
        p.merchants = Some(2);
        p.social_nodes = Some(2);
        let summary = generate(&p, &dir).expect("generate");
        let text = fs::read_to_string(&summary.merchants_path).expect("read");
        assert!(text.contains("<img src=x onerror=alert(1)>"));
        assert!(text.contains("'); drop table transactions; --"));
        assert_eq!(
            fs::read_to_string(&summary.social_path).expect("read"),
            "0 1\n"
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn no_temporary_files_are_left_behind() {
        let dir = temp_dir("tmpfiles");
        generate(&params(5, 1, RetailFormat::CsvGz), &dir).expect("generate");
        let mut names: Vec<String> = fs::read_dir(&dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "facebook_combined.txt",
                "online_retail.csv.gz",
                "yelp_academic_dataset_business.json"
            ]
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
