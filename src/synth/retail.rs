//! Synthetic UCI Online Retail lines, in the layout of the real `online_retail.csv.gz`.
//!
//! Two passes. First, customers are planned in chunks of [`CHUNK_CUSTOMERS`], in parallel, each
//! chunk from its own seeded RNG: a profile per customer (country, quantity scale, favourite
//! products) and a small record per invoice (time, kind, line count, seed) — sales, later
//! cancellations, anonymous web orders and stock adjustments. Second, all invoices are sorted
//! by time, numbered from 536365 like the real file, and their lines are generated and
//! formatted block by block in parallel (each invoice from its own seed) and written in order.
//! Neither pass depends on the thread count, so the bytes do not either.
//!
//! Shape targets, from the real file: ≈ 93 lines per customer (median 42, heavy tail),
//! ≈ 5 invoices per customer, ≈ 25 % of lines without a CustomerID, ≈ 2 % cancellation lines,
//! ≈ 1 % exact duplicates, quantities and prices heavy-tailed, ≈ 90 % of customers in the
//! United Kingdom, no trading on Saturdays or over Christmas. Every cleaning step of SPEC §3
//! removes something: customer 12346's first order always carries a free line, a
//! non-positive quantity, a duplicate and a cancellation, and a bad-debt adjustment without a
//! customer is always present.

use std::io::{self, Write};

use rand::seq::SliceRandom;
use rand::{Rng, RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

use super::catalogue::{push_csv_field, Catalogue, Milli, Product};
use super::{cumulative, log_normal, pick_cumulative, standard_normal, stream_rng};
use crate::report::csv_export::write_integer;

const HEADER: &[u8] =
    b"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n";
const FIRST_CUSTOMER_ID: u64 = 12_346;
const FIRST_INVOICE_NO: u64 = 536_365;
/// Customers planned per parallel task.
const CHUNK_CUSTOMERS: usize = 256;
/// Invoices formatted per parallel task.
const BLOCK_INVOICES: usize = 256;
/// Blocks formatted between two writes; bounds memory to a few tens of MB.
const BATCH_BLOCKS: usize = 64;
/// `InvoicePlan::customer` of lines without a CustomerID.
const NO_CUSTOMER: u32 = u32::MAX;
const FAVOURITES: usize = 12;
/// Quantity scale of lines without a customer.
const WEB_QUANTITY_SCALE: f64 = 0.3;

/// Probability that a sale gets a later cancellation invoice.
const P_CANCEL: f64 = 0.2;
/// Probability that a cancellation is a lone `D,Discount` line instead of returned goods.
const P_DISCOUNT: f64 = 0.03;
/// Per customer: probability of one anonymous invoice (web order or stock adjustment).
const P_ANONYMOUS: f64 = 0.9;
/// Share of anonymous invoices that are one-line stock adjustments (price 0).
const P_ADJUSTMENT: f64 = 0.55;
/// Per sale line: a copy of a recent line of the same invoice follows it.
const P_DUPLICATE: f64 = 0.011;
/// Per customer sale line: sold at price 0 (a free item).
const P_FREE: f64 = 1.5e-4;
/// Per customer sale line: followed by a non-cancelled correction with quantity <= 0.
const P_NON_POSITIVE: f64 = 1.0e-4;
/// Salts of the secondary per-invoice streams; the primary stream must replay a sale's
/// products exactly when its cancellation picks lines to return.
const EMIT_SALT: u64 = 0x5eed_0000_e417;
const CANCEL_SALT: u64 = 0x5eed_0000_ca5c;

/// Writes the header and all lines; returns the number of data lines.
pub(crate) fn write_retail<W: Write + Send>(
    customers: usize,
    seed: u64,
    out: &mut W,
) -> io::Result<usize> {
    let catalogue = Catalogue::new(seed);
    let calendar = Calendar::new();
    let chunks: Vec<(Vec<Customer>, Vec<InvoicePlan>)> = (0..customers.div_ceil(CHUNK_CUSTOMERS))
        .into_par_iter()
        .map(|chunk| {
            let start = chunk * CHUNK_CUSTOMERS;
            let end = (start + CHUNK_CUSTOMERS).min(customers);
            plan_chunk(seed, chunk, start..end, &calendar, &catalogue)
        })
        .collect();
    let mut profiles = Vec::with_capacity(customers);
    let mut invoices = Vec::new();
    for (chunk_customers, chunk_invoices) in chunks {
        profiles.extend(chunk_customers);
        invoices.extend(chunk_invoices);
    }
    // `order` is unique, so the sorted order is fully determined.
    invoices.par_sort_unstable_by_key(|inv| (inv.minute, inv.order));
    let numbers = invoice_numbers(seed, invoices.len());

    let context = Context {
        catalogue: &catalogue,
        customers: &profiles,
        calendar: &calendar,
    };
    out.write_all(HEADER)?;
    let mut lines = 0;
    let mut pending: Vec<(Vec<u8>, usize)> = Vec::new();
    let batch_invoices = BLOCK_INVOICES * BATCH_BLOCKS;
    let mut start = 0;
    // Write the previous batch while the next one is formatted, so that gzip (one thread)
    // overlaps with line generation.
    while start < invoices.len() {
        let end = (start + batch_invoices).min(invoices.len());
        let batch = &invoices[start..end];
        let batch_numbers = &numbers[start..end];
        let previous = std::mem::take(&mut pending);
        let (written, formatted) = rayon::join(
            || write_blocks(out, previous),
            || {
                batch
                    .par_chunks(BLOCK_INVOICES)
                    .zip(batch_numbers.par_chunks(BLOCK_INVOICES))
                    .map(|(block, block_numbers)| context.format_block(block, block_numbers))
                    .collect::<Vec<_>>()
            },
        );
        lines += written?;
        pending = formatted;
        start = end;
    }
    lines += write_blocks(out, pending)?;
    Ok(lines)
}

fn write_blocks<W: Write>(out: &mut W, blocks: Vec<(Vec<u8>, usize)>) -> io::Result<usize> {
    let mut lines = 0;
    for (bytes, count) in blocks {
        out.write_all(&bytes)?;
        lines += count;
    }
    Ok(lines)
}

/// Invoice numbers in time order, with the gaps of the real sequence (25,900 invoices used
/// 45,222 numbers).
fn invoice_numbers(seed: u64, count: usize) -> Vec<u64> {
    let mut rng = stream_rng(seed, "invoice-numbers", 0);
    let mut next = FIRST_INVOICE_NO;
    (0..count)
        .map(|_| {
            let number = next;
            next += 1;
            if rng.gen::<f64>() < 0.5 {
                next += rng.gen_range(1..=2);
            }
            number
        })
        .collect()
}

/// Countries with the number of real customers and of real lines without a customer.
const COUNTRIES: &[(&str, f64, f64)] = &[
    ("United Kingdom", 3950.0, 133_600.0),
    ("Germany", 95.0, 0.0),
    ("France", 87.0, 66.0),
    ("Spain", 29.0, 0.0),
    ("Belgium", 24.0, 0.0),
    ("Switzerland", 20.0, 125.0),
    ("Portugal", 19.0, 39.0),
    ("Italy", 15.0, 0.0),
    ("Finland", 12.0, 0.0),
    ("Norway", 10.0, 0.0),
    ("Australia", 9.0, 0.0),
    ("Netherlands", 9.0, 0.0),
    ("Channel Islands", 9.0, 0.0),
    ("Austria", 9.0, 0.0),
    ("Japan", 8.0, 0.0),
    ("Denmark", 8.0, 0.0),
    ("Sweden", 8.0, 0.0),
    ("Cyprus", 7.0, 0.0),
    ("Poland", 6.0, 0.0),
    ("Israel", 4.0, 47.0),
    ("Greece", 4.0, 0.0),
    ("Canada", 4.0, 0.0),
    ("Unspecified", 4.0, 202.0),
    ("USA", 4.0, 0.0),
    ("EIRE", 3.0, 711.0),
    ("United Arab Emirates", 2.0, 0.0),
    ("Bahrain", 2.0, 0.0),
    ("Malta", 2.0, 0.0),
    ("Lithuania", 1.0, 0.0),
    ("Iceland", 1.0, 0.0),
    ("Singapore", 1.0, 0.0),
    ("Lebanon", 1.0, 0.0),
    ("Saudi Arabia", 1.0, 0.0),
    ("Czech Republic", 1.0, 0.0),
    ("Brazil", 1.0, 0.0),
    ("European Community", 1.0, 0.0),
    ("RSA", 1.0, 0.0),
    ("Hong Kong", 0.0, 288.0),
];
const UNITED_KINGDOM: u16 = 0;
const EIRE: u16 = 24;

/// Pack sizes that larger quantities snap to (12, 6 and 24 are the commonest real quantities
/// after 1 and 2).
#[rustfmt::skip]
const PACK_SIZES: &[i32] = &[
    6, 8, 10, 12, 16, 20, 24, 25, 30, 32, 36, 40, 48, 50, 60, 64, 72, 80, 96, 100, 120, 144, 150,
    160, 192, 200, 240, 250, 288, 300, 360, 384, 400, 432, 480, 500, 576, 600, 640, 720, 800, 864,
    960, 1000, 1200, 1440, 1728, 2000, 2400, 2880, 3000, 3600, 4000, 4800,
];

/// Descriptions of stock adjustments (the real file has these, or none, on price-0 lines).
#[rustfmt::skip]
const ADJUSTMENT_NOTES: &[&str] = &[
    "check", "damaged", "wet/rusty", "?", "lost", "found", "adjustment", "mixed up",
    "sold as set on dotcom", "wrong code", "Damaged", "missing", "thrown away", "smashed",
    "wet damaged", "crushed", "had been put aside", "counted",
];

/// Trading days and hours of the real file.
struct Calendar {
    /// `M/D/YYYY ` per day, day 0 = 2010-12-01.
    labels: Vec<Vec<u8>>,
    /// Cumulative trading volume per day (0 on closed days).
    day_weights: Vec<f64>,
    /// Cumulative volume per hour from 6:00 to 20:00.
    hour_weights: Vec<f64>,
}

/// Real lines per month, Dec 2010 … Dec 2011 (the last month has 9 days).
const MONTHS: &[(u32, u32, u32, f64)] = &[
    (2010, 12, 31, 42_481.0),
    (2011, 1, 31, 35_147.0),
    (2011, 2, 28, 27_707.0),
    (2011, 3, 31, 36_748.0),
    (2011, 4, 30, 29_916.0),
    (2011, 5, 31, 37_030.0),
    (2011, 6, 30, 36_874.0),
    (2011, 7, 31, 39_518.0),
    (2011, 8, 31, 35_284.0),
    (2011, 9, 30, 50_226.0),
    (2011, 10, 31, 60_742.0),
    (2011, 11, 30, 84_711.0),
    (2011, 12, 9, 25_525.0),
];
/// Relative volume Monday … Sunday; the shop never traded on Saturdays.
const WEEKDAYS: [f64; 7] = [0.95, 1.02, 0.95, 1.04, 0.82, 0.0, 0.64];
/// Christmas closure and the 2011 bank holidays (no lines on these days in the real file).
const CLOSED: &[(u32, u32, u32)] = &[
    (2010, 12, 24),
    (2010, 12, 25),
    (2010, 12, 26),
    (2010, 12, 27),
    (2010, 12, 28),
    (2010, 12, 29),
    (2010, 12, 30),
    (2010, 12, 31),
    (2011, 1, 1),
    (2011, 1, 2),
    (2011, 1, 3),
    (2011, 4, 22),
    (2011, 4, 25),
    (2011, 4, 29),
    (2011, 5, 2),
    (2011, 5, 30),
    (2011, 8, 29),
];
/// Real lines per hour of the day, 6:00 … 20:00.
const HOURS: [f64; 15] = [
    41.0, 383.0, 8_909.0, 34_332.0, 49_037.0, 57_674.0, 78_709.0, 72_259.0, 67_471.0, 77_519.0,
    54_516.0, 28_509.0, 7_974.0, 3_705.0, 871.0,
];
const MINUTES_PER_DAY: u32 = 1_440;
/// First and last trading minutes of the data: 2010-12-01 8:26 and 2011-12-09 12:50.
const FIRST_DAY_OPENS: u32 = 8 * 60 + 26;
const LAST_DAY_CLOSES: u32 = 12 * 60 + 50;

impl Calendar {
    fn new() -> Self {
        let mut labels = Vec::new();
        let mut weights = Vec::new();
        for &(year, month, days, volume) in MONTHS {
            let first = labels.len();
            let mut open_weight = 0.0;
            for day in 1..=days {
                labels.push(format!("{month}/{day}/{year} ").into_bytes());
                // 2010-12-01 was a Wednesday (Monday = 0).
                let weekday = (2 + labels.len() - 1) % 7;
                let closed = CLOSED.contains(&(year, month, day));
                let w = if closed { 0.0 } else { WEEKDAYS[weekday] };
                open_weight += w;
                weights.push(w);
            }
            for w in &mut weights[first..] {
                *w *= volume / open_weight;
            }
        }
        Calendar {
            labels,
            day_weights: cumulative(weights),
            hour_weights: cumulative(HOURS),
        }
    }

    fn days(&self) -> usize {
        self.labels.len()
    }

    /// A trading day, by volume.
    fn day<R: Rng>(&self, rng: &mut R) -> usize {
        pick_cumulative(rng, &self.day_weights)
    }

    /// A trading day in `lo..=hi` (both trading days), by volume.
    fn day_between<R: Rng>(&self, rng: &mut R, lo: usize, hi: usize) -> usize {
        let below = if lo == 0 {
            0.0
        } else {
            self.day_weights[lo - 1]
        };
        let target = below + rng.gen::<f64>() * (self.day_weights[hi] - below);
        self.day_weights
            .partition_point(|&c| c <= target)
            .clamp(lo, hi)
    }

    /// First trading day on or after `day`, if any.
    fn trading_day_from(&self, day: usize) -> Option<usize> {
        (day..self.days()).find(|&d| {
            let below = if d == 0 { 0.0 } else { self.day_weights[d - 1] };
            self.day_weights[d] > below
        })
    }

    /// Minute of the timeline (day × 1440 + minute of day) of an invoice on `day`.
    fn minute<R: Rng>(&self, rng: &mut R, day: usize) -> u32 {
        let opens = if day == 0 { FIRST_DAY_OPENS } else { 0 };
        let closes = if day + 1 == self.days() {
            LAST_DAY_CLOSES
        } else {
            MINUTES_PER_DAY - 1
        };
        let mut minute_of_day = 0;
        // Redraw rather than clamp, so the first and last days keep their hour profile.
        for _ in 0..16 {
            let hour = 6 + pick_cumulative(rng, &self.hour_weights) as u32;
            minute_of_day = hour * 60 + rng.gen_range(0..60);
            if (opens..=closes).contains(&minute_of_day) {
                break;
            }
        }
        day as u32 * MINUTES_PER_DAY + minute_of_day.clamp(opens, closes)
    }
}

/// A customer's buying habits.
#[derive(Clone, Debug)]
struct Customer {
    country: u16,
    /// Multiplies every quantity: wholesalers buy by the box.
    quantity_scale: f64,
    /// Products bought again and again.
    favourites: [u32; FAVOURITES],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A customer's order; `forced` carries one line for each cleaning step.
    Sale { forced: bool },
    /// `C` invoice returning some lines of the sale with the same seed.
    Cancel,
    /// `C` invoice with a lone `D,Discount` line.
    Discount,
    /// Order without a CustomerID.
    WebSale,
    /// One price-0 line without a CustomerID (stock count, damage).
    Adjustment,
    /// `A` invoice `B,Adjust bad debt` without a CustomerID.
    BadDebt { negative: bool },
}

/// One invoice before its lines exist.
#[derive(Clone, Copy, Debug)]
struct InvoicePlan {
    /// Minutes since 2010-12-01 0:00.
    minute: u32,
    /// Unique tie-breaker: chunk in the high half, position in the chunk in the low half.
    order: u64,
    customer: u32,
    country: u16,
    kind: Kind,
    /// Line count of the sale (for a cancellation, of the sale it cancels).
    lines: u32,
    /// Seed of the lines (for a cancellation, the cancelled sale's seed).
    seed: u64,
}

/// One retail line before formatting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Line {
    product: u32,
    quantity: i32,
    price: Milli,
}

/// Plans the customers `range` (chunk `chunk`) and their invoices, plus the chunk's share of
/// anonymous invoices.
fn plan_chunk(
    seed: u64,
    chunk: usize,
    range: std::ops::Range<usize>,
    calendar: &Calendar,
    catalogue: &Catalogue,
) -> (Vec<Customer>, Vec<InvoicePlan>) {
    let mut rng = stream_rng(seed, "retail-chunk", chunk as u64);
    let customer_countries = cumulative(COUNTRIES.iter().map(|c| c.1));
    let anonymous_countries = cumulative(COUNTRIES.iter().map(|c| c.2));
    let mut customers = Vec::with_capacity(range.len());
    let mut invoices = Vec::new();
    let mut next_order = (chunk as u64) << 32;
    let mut order = || {
        next_order += 1;
        next_order
    };

    for index in range.clone() {
        let country = pick_cumulative(&mut rng, &customer_countries) as u16;
        let quantity_scale = (0.55 * standard_normal(&mut rng)).exp();
        let mut favourites = [0; FAVOURITES];
        for favourite in &mut favourites {
            *favourite = catalogue.popular(&mut rng);
        }
        customers.push(Customer {
            country,
            quantity_scale,
            favourites,
        });
        // Real invoices per customer: median 3, 90th percentile 11, 99th 36.
        let n_invoices = log_normal(&mut rng, 2.3, 1.1).round().clamp(1.0, 400.0) as usize;
        // Real lines per invoice: mean ≈ 18, spread both across and within customers; the
        // shop's customers abroad are mostly wholesalers with bigger orders.
        let abroad_factor = if country == UNITED_KINGDOM { 1.0 } else { 1.3 };
        let basket = log_normal(&mut rng, 13.5 * abroad_factor, 0.7);
        // Active period: the spread of a few volume-weighted days (wider for busy customers;
        // real median tenure 92 days, median recency 51 days).
        let window: Vec<usize> = (0..n_invoices.min(3))
            .map(|_| calendar.day(&mut rng))
            .collect();
        let lo = window.iter().copied().min().unwrap_or(0);
        let hi = window.iter().copied().max().unwrap_or(0);
        let mut days: Vec<usize> = (0..n_invoices)
            .map(|k| match k {
                0 => lo,
                1 => hi,
                _ => calendar.day_between(&mut rng, lo, hi),
            })
            .collect();
        days.sort_unstable();
        for (k, &day) in days.iter().enumerate() {
            let forced = index == 0 && k == 0;
            let minute = calendar.minute(&mut rng, day);
            let mut lines = log_normal(&mut rng, basket, 0.6).round().clamp(1.0, 1000.0) as u32;
            if forced {
                lines = lines.max(3);
            }
            let sale_seed = rng.next_u64();
            invoices.push(InvoicePlan {
                minute,
                order: order(),
                customer: index as u32,
                country,
                kind: Kind::Sale { forced },
                lines,
                seed: sale_seed,
            });
            if forced || rng.gen::<f64>() < P_CANCEL {
                let cancel_minute = cancellation_minute(&mut rng, calendar, minute);
                let discount = !forced && rng.gen::<f64>() < P_DISCOUNT;
                invoices.push(InvoicePlan {
                    minute: cancel_minute,
                    order: order(),
                    customer: index as u32,
                    country,
                    kind: if discount {
                        Kind::Discount
                    } else {
                        Kind::Cancel
                    },
                    lines,
                    seed: if discount { rng.next_u64() } else { sale_seed },
                });
            }
        }
    }

    for _ in range {
        if rng.gen::<f64>() >= P_ANONYMOUS {
            continue;
        }
        let day = calendar.day(&mut rng);
        let minute = calendar.minute(&mut rng, day);
        let country = pick_cumulative(&mut rng, &anonymous_countries) as u16;
        let (kind, lines) = if rng.gen::<f64>() < P_ADJUSTMENT {
            (Kind::Adjustment, 1)
        } else {
            // Real web orders: median ≈ 50 lines, a tail to 1,114 (≈ 25 % of all lines).
            let lines = log_normal(&mut rng, 40.0, 1.0).round().clamp(1.0, 1200.0) as u32;
            (Kind::WebSale, lines)
        };
        invoices.push(InvoicePlan {
            minute,
            order: order(),
            customer: NO_CUSTOMER,
            country,
            kind,
            lines,
            seed: rng.next_u64(),
        });
    }

    if chunk == 0 {
        // The real file's three `A` invoices: a bad debt booked and reversed, a minute apart.
        let day = calendar.day(&mut rng);
        let minute = calendar.minute(&mut rng, day);
        let debt_seed = rng.next_u64();
        for (offset, negative) in [(0, false), (1, true), (2, true)] {
            invoices.push(InvoicePlan {
                minute: minute + offset,
                order: order(),
                customer: NO_CUSTOMER,
                country: UNITED_KINGDOM,
                kind: Kind::BadDebt { negative },
                lines: 1,
                seed: debt_seed,
            });
        }
    }
    (customers, invoices)
}

/// When a sale is cancelled: often the same day, otherwise days or weeks later.
fn cancellation_minute<R: Rng>(rng: &mut R, calendar: &Calendar, sale_minute: u32) -> u32 {
    let sale_day = (sale_minute / MINUTES_PER_DAY) as usize;
    if rng.gen::<f64>() >= 0.4 {
        let delay = log_normal(rng, 6.0, 1.0).ceil().min(400.0) as usize;
        if let Some(day) = calendar.trading_day_from(sale_day + delay) {
            return calendar.minute(rng, day);
        }
    }
    // Same day, before closing time (or a minute after a sale at closing time).
    let day_start = sale_minute - sale_minute % MINUTES_PER_DAY;
    let closes = if sale_day + 1 == calendar.days() {
        LAST_DAY_CLOSES
    } else {
        21 * 60 - 1
    };
    (sale_minute + rng.gen_range(1..=120)).min((day_start + closes).max(sale_minute + 1))
}

/// Everything line generation reads.
struct Context<'a> {
    catalogue: &'a Catalogue,
    customers: &'a [Customer],
    calendar: &'a Calendar,
}

/// Scratch buffers reused across the invoices of a block.
#[derive(Default)]
struct Scratch {
    base: Vec<Line>,
    emitted: Vec<Line>,
    taken: Vec<u64>,
    indices: Vec<usize>,
}

impl Context<'_> {
    fn customer(&self, invoice: &InvoicePlan) -> Option<&Customer> {
        self.customers.get(invoice.customer as usize)
    }

    /// Formats a block of invoices; returns the bytes and the line count.
    fn format_block(&self, invoices: &[InvoicePlan], numbers: &[u64]) -> (Vec<u8>, usize) {
        let mut out = LineWriter {
            buf: Vec::with_capacity(invoices.len() * 1_600),
            head: Vec::with_capacity(16),
            date: Vec::with_capacity(24),
            tail: Vec::with_capacity(40),
            lines: 0,
        };
        let mut scratch = Scratch::default();
        for (invoice, &number) in invoices.iter().zip(numbers) {
            self.format_invoice(invoice, number, &mut out, &mut scratch);
        }
        (out.buf, out.lines)
    }

    fn format_invoice(
        &self,
        invoice: &InvoicePlan,
        number: u64,
        out: &mut LineWriter,
        scratch: &mut Scratch,
    ) {
        out.head.clear();
        match invoice.kind {
            Kind::Cancel | Kind::Discount => out.head.push(b'C'),
            Kind::BadDebt { .. } => out.head.push(b'A'),
            _ => {}
        }
        write_integer(&mut out.head, number as i64);
        out.head.push(b',');

        let day = (invoice.minute / MINUTES_PER_DAY) as usize;
        let minute_of_day = invoice.minute % MINUTES_PER_DAY;
        out.date.clear();
        out.date
            .extend_from_slice(&self.calendar.labels[day.min(self.calendar.days() - 1)]);
        write_integer(&mut out.date, i64::from(minute_of_day / 60));
        out.date.push(b':');
        out.date.push(b'0' + (minute_of_day % 60 / 10) as u8);
        out.date.push(b'0' + (minute_of_day % 10) as u8);
        out.date.push(b',');

        out.tail.clear();
        out.tail.push(b',');
        if invoice.customer != NO_CUSTOMER {
            write_integer(
                &mut out.tail,
                (FIRST_CUSTOMER_ID + u64::from(invoice.customer)) as i64,
            );
        }
        out.tail.push(b',');
        out.tail
            .extend_from_slice(COUNTRIES[usize::from(invoice.country)].0.as_bytes());
        out.tail.push(b'\n');

        let products = &self.catalogue.products;
        let services = self.catalogue.services;
        match invoice.kind {
            Kind::Sale { forced } => self.format_sale(invoice, forced, out, scratch),
            Kind::WebSale => self.format_sale(invoice, false, out, scratch),
            Kind::Cancel => {
                self.sale_lines(invoice, scratch);
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(invoice.seed ^ CANCEL_SALT);
                let base = &scratch.base;
                // Returns are small: one line usually, 2.4 on average in the real file.
                let mut returned = 1;
                while returned < base.len() && rng.gen::<f64>() < 0.6 {
                    returned += 1;
                }
                scratch.indices.clear();
                scratch.indices.extend(0..base.len());
                let (chosen, _) = scratch.indices.partial_shuffle(&mut rng, returned);
                chosen.sort_unstable();
                for &i in chosen.iter() {
                    let line = base[i];
                    let quantity = if rng.gen::<f64>() < 0.8 {
                        -line.quantity
                    } else {
                        -rng.gen_range(1..=line.quantity.max(1))
                    };
                    out.line(&products[line.product as usize], quantity, line.price);
                }
            }
            Kind::Discount => {
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(invoice.seed);
                let price = round_milli(log_normal(&mut rng, 15.0, 1.2), 10).max(10);
                out.line(&products[services.discount as usize], -1, price);
            }
            Kind::Adjustment => {
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(invoice.seed);
                let product = &products[self.catalogue.popular(&mut rng) as usize];
                let size = log_normal(&mut rng, 12.0, 1.0).round().max(1.0) as i32;
                let quantity = if rng.gen::<f64>() < 0.6 { -size } else { size };
                let note = if rng.gen::<f64>() < 0.55 {
                    ""
                } else {
                    ADJUSTMENT_NOTES.choose(&mut rng).copied().unwrap_or("")
                };
                out.line_noted(product, note, quantity, 0);
            }
            Kind::BadDebt { negative } => {
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(invoice.seed);
                let amount = round_milli(log_normal(&mut rng, 11_000.0, 0.3), 10);
                let price = if negative { -amount } else { amount };
                out.line(&products[services.bad_debt as usize], 1, price);
            }
        }
    }

    /// A sale as written: its products plus duplicates, free items and corrections.
    fn format_sale(
        &self,
        invoice: &InvoicePlan,
        forced: bool,
        out: &mut LineWriter,
        scratch: &mut Scratch,
    ) {
        self.sale_lines(invoice, scratch);
        let products = &self.catalogue.products;
        let identified = invoice.customer != NO_CUSTOMER;
        // A separate stream, so these extras never shift the products a cancellation replays.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(invoice.seed ^ EMIT_SALT);
        scratch.emitted.clear();
        for &original in &scratch.base {
            let mut line = original;
            // Not in the forced sale, whose first line must stay sellable to be duplicated.
            if identified && !forced && rng.gen::<f64>() < P_FREE {
                line.price = 0;
            }
            out.line(&products[line.product as usize], line.quantity, line.price);
            scratch.emitted.push(line);
            if rng.gen::<f64>() < P_DUPLICATE {
                // Real duplicates follow their original within a few lines.
                let from = scratch.emitted.len().saturating_sub(12);
                let copy = scratch.emitted[rng.gen_range(from..scratch.emitted.len())];
                out.line(&products[copy.product as usize], copy.quantity, copy.price);
            }
            if identified && rng.gen::<f64>() < P_NON_POSITIVE {
                let quantity = -rng.gen_range(0..=12);
                out.line(&products[line.product as usize], quantity, line.price);
            }
        }
        if forced {
            if let Some(&first) = scratch.emitted.first() {
                let product = &products[first.product as usize];
                out.line(product, first.quantity, 0);
                out.line(product, -1, first.price);
                out.line(product, first.quantity, first.price);
            }
        }
    }

    /// The products of a sale, from the invoice's primary stream only.
    fn sale_lines(&self, invoice: &InvoicePlan, scratch: &mut Scratch) {
        let catalogue = self.catalogue;
        let services = catalogue.services;
        let customer = self.customer(invoice);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(invoice.seed);
        let base = &mut scratch.base;
        base.clear();
        let taken = &mut scratch.taken;
        taken.clear();
        taken.resize(catalogue.regular().div_ceil(64), 0);
        // Web orders are for single items (real median quantity 1 against 6 for customers).
        let scale = customer.map_or(WEB_QUANTITY_SCALE, |c| c.quantity_scale);
        for _ in 0..invoice.lines {
            // Distinct products per invoice: accidental repeats would inflate duplicates.
            let mut product = None;
            for _ in 0..16 {
                let candidate = match customer {
                    Some(c) if rng.gen::<f64>() < 0.3 => c.favourites[rng.gen_range(0..FAVOURITES)],
                    _ => catalogue.popular(&mut rng),
                } as usize;
                if taken[candidate / 64] & (1 << (candidate % 64)) == 0 {
                    taken[candidate / 64] |= 1 << (candidate % 64);
                    product = Some(candidate);
                    break;
                }
            }
            let Some(product) = product else { continue };
            let item = &catalogue.products[product];
            let quantity = quantity(&mut rng, item.retail, scale);
            let price = match customer {
                None => item.web,
                Some(_) if quantity >= 24 => item.bulk,
                Some(_) if quantity >= 12 && rng.gen::<f64>() < 0.5 => item.bulk,
                Some(_) => item.retail,
            };
            base.push(Line {
                product: product as u32,
                quantity,
                price,
            });
        }
        // Service lines; each draw happens whatever the outcome, to keep the stream aligned.
        let service = |product: u32, quantity: i32, price: Milli| Line {
            product,
            quantity,
            price,
        };
        match customer {
            Some(c) => {
                let abroad = rng.gen::<f64>() < 0.6 && c.country != UNITED_KINGDOM;
                let carriage = rng.gen::<f64>() < 0.5 && c.country == EIRE;
                let parcels = *[1, 1, 1, 1, 1, 1, 1, 2, 2, 3]
                    .choose(&mut rng)
                    .unwrap_or(&1);
                let postage = *[
                    18_000, 18_000, 18_000, 18_000, 15_000, 15_000, 40_000, 28_000,
                ]
                .choose(&mut rng)
                .unwrap_or(&18_000);
                if abroad && carriage {
                    base.push(service(services.carriage, 1, 50_000));
                } else if abroad {
                    base.push(service(services.postage, parcels, postage));
                }
                let manual_price = round_milli(log_normal(&mut rng, 1.5, 1.4), 10).max(10);
                if rng.gen::<f64>() < 0.015 {
                    base.push(service(services.manual, 1, manual_price));
                }
                if rng.gen::<f64>() < 0.001 {
                    base.push(service(services.bank_charges, 1, 15_000));
                }
                if rng.gen::<f64>() < 0.0008 {
                    base.push(service(services.pads, 1, 1));
                }
            }
            None => {
                let value: Milli = base.iter().map(|l| Milli::from(l.quantity) * l.price).sum();
                let dot_price = round_milli((value as f64 / 1000.0) * 0.08 + 5.0, 10);
                if rng.gen::<f64>() < 0.6 {
                    base.push(service(services.dotcom_postage, 1, dot_price));
                }
                let fee = round_milli(log_normal(&mut rng, 5_000.0, 0.6), 10);
                if rng.gen::<f64>() < 0.005 {
                    base.push(service(services.amazon_fee, 1, fee));
                }
            }
        }
    }
}

/// A line quantity: heavy-tailed (real median 3, 90th percentile 24, 99th 100), smaller for
/// dearer items (real medians: 16 under £0.50, 9 at £1–2, 2 above £8), often a pack size.
fn quantity<R: Rng>(rng: &mut R, unit_price: Milli, scale: f64) -> i32 {
    let pounds = (unit_price as f64 / 1000.0).max(0.05);
    let median = (5.5 * scale * (2.0 / pounds).powf(0.6)).clamp(1.0, 400.0);
    let mut quantity = log_normal(rng, median, 1.0).round().max(1.0) as i32;
    if quantity >= 5 && rng.gen::<f64>() < 0.85 {
        let above = PACK_SIZES
            .partition_point(|&p| p < quantity)
            .min(PACK_SIZES.len() - 1);
        let below = above.saturating_sub(1);
        quantity = if (PACK_SIZES[above] - quantity).abs() <= (quantity - PACK_SIZES[below]).abs() {
            PACK_SIZES[above]
        } else {
            PACK_SIZES[below]
        };
    }
    if rng.gen::<f64>() < 0.0005 {
        quantity *= rng.gen_range(10..=60);
    }
    quantity.min(100_000)
}

/// Pounds to thousandths of a pound, rounded to `step`.
fn round_milli(pounds: f64, step: Milli) -> Milli {
    ((pounds * 1000.0 / step as f64).round() as Milli) * step
}

/// Formats lines of the current invoice into a block buffer.
struct LineWriter {
    buf: Vec<u8>,
    /// `InvoiceNo,`
    head: Vec<u8>,
    /// `M/D/YYYY H:MM,`
    date: Vec<u8>,
    /// `,CustomerID,Country\n`
    tail: Vec<u8>,
    lines: usize,
}

impl LineWriter {
    fn line(&mut self, product: &Product, quantity: i32, price: Milli) {
        self.buf.extend_from_slice(&self.head);
        self.buf.extend_from_slice(&product.code_and_description);
        self.finish(quantity, price);
    }

    /// A line whose description is `note` instead of the product's own.
    fn line_noted(&mut self, product: &Product, note: &str, quantity: i32, price: Milli) {
        self.buf.extend_from_slice(&self.head);
        self.buf.extend_from_slice(&product.code_field);
        push_csv_field(&mut self.buf, note);
        self.buf.push(b',');
        self.finish(quantity, price);
    }

    fn finish(&mut self, quantity: i32, price: Milli) {
        write_integer(&mut self.buf, i64::from(quantity));
        self.buf.push(b',');
        self.buf.extend_from_slice(&self.date);
        push_price(&mut self.buf, price);
        self.buf.extend_from_slice(&self.tail);
        self.lines += 1;
    }
}

/// Appends a price in the shortest decimal form: `2.55`, `18`, `0.001`, `-11062.06`.
fn push_price(out: &mut Vec<u8>, milli: Milli) {
    if milli < 0 {
        out.push(b'-');
    }
    let magnitude = milli.unsigned_abs();
    write_integer(out, (magnitude / 1000) as i64);
    let mut fraction = magnitude % 1000;
    if fraction == 0 {
        return;
    }
    let mut width = 3;
    while fraction.is_multiple_of(10) {
        fraction /= 10;
        width -= 1;
    }
    out.push(b'.');
    let mut digits = [b'0'; 3];
    for slot in digits[..width].iter_mut().rev() {
        *slot = b'0' + (fraction % 10) as u8;
        fraction /= 10;
    }
    out.extend_from_slice(&digits[..width]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(milli: Milli) -> String {
        let mut out = Vec::new();
        push_price(&mut out, milli);
        String::from_utf8(out).expect("utf8")
    }

    fn int(value: i64) -> String {
        let mut out = Vec::new();
        write_integer(&mut out, value);
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn prices_use_the_shortest_decimal() {
        assert_eq!(price(2_550), "2.55");
        assert_eq!(price(18_000), "18");
        assert_eq!(price(1), "0.001");
        assert_eq!(price(10), "0.01");
        assert_eq!(price(100), "0.1");
        assert_eq!(price(0), "0");
        assert_eq!(price(-11_062_060), "-11062.06");
        assert_eq!(price(165_500), "165.5");
    }

    #[test]
    fn integers_format_like_std() {
        for value in [0, 7, -1, 10, 536_365, -80_995, i64::MAX, i64::MIN + 1] {
            assert_eq!(int(value), value.to_string());
        }
    }

    #[test]
    fn calendar_spans_the_real_period_without_saturdays() {
        let calendar = Calendar::new();
        assert_eq!(calendar.days(), 374);
        assert_eq!(calendar.labels[0], b"12/1/2010 ");
        assert_eq!(calendar.labels[373], b"12/9/2011 ");
        let mut rng = stream_rng(1, "test", 0);
        for _ in 0..5_000 {
            let day = calendar.day(&mut rng);
            // 2010-12-04 was a Saturday.
            assert_ne!((day + 7 - 3) % 7, 0, "Saturday drawn: day {day}");
            let minute = calendar.minute(&mut rng, day);
            assert_eq!(minute as usize / 1440, day);
        }
        let closing = calendar.minute(&mut rng, 373) % MINUTES_PER_DAY;
        assert!(closing <= LAST_DAY_CLOSES);
    }

    #[test]
    fn day_between_stays_in_range() {
        let calendar = Calendar::new();
        let mut rng = stream_rng(2, "test", 0);
        let (lo, hi) = (calendar.day(&mut rng), calendar.day(&mut rng));
        let (lo, hi) = (lo.min(hi), lo.max(hi));
        for _ in 0..1_000 {
            let day = calendar.day_between(&mut rng, lo, hi);
            assert!((lo..=hi).contains(&day));
        }
        assert_eq!(calendar.day_between(&mut rng, lo, lo), lo);
    }

    #[test]
    fn no_trading_day_after_the_end() {
        let calendar = Calendar::new();
        assert_eq!(calendar.trading_day_from(374), None);
        assert_eq!(calendar.trading_day_from(373), Some(373));
        // 2010-12-24 .. 2011-01-03 closed; trading resumes on 2011-01-04 (day 34).
        assert_eq!(calendar.trading_day_from(23), Some(34));
    }

    #[test]
    fn quantities_are_positive_and_heavy_tailed() {
        let mut rng = stream_rng(3, "test", 0);
        let mut draws: Vec<i32> = (0..20_000)
            .map(|_| quantity(&mut rng, 2_000, 1.0))
            .collect();
        draws.sort_unstable();
        assert!(draws[0] >= 1);
        let median = draws[draws.len() / 2];
        let p99 = draws[draws.len() * 99 / 100];
        assert!((3..=8).contains(&median), "median {median}");
        assert!(p99 >= 10 * median, "p99 {p99} vs median {median}");
    }

    #[test]
    fn cancellation_replays_lines_of_its_sale() {
        let catalogue = Catalogue::new(5);
        let calendar = Calendar::new();
        let (customers, invoices) = plan_chunk(5, 0, 0..40, &calendar, &catalogue);
        let context = Context {
            catalogue: &catalogue,
            customers: &customers,
            calendar: &calendar,
        };
        let cancel = invoices
            .iter()
            .find(|i| i.kind == Kind::Cancel)
            .expect("a cancellation");
        let sale = invoices
            .iter()
            .find(|i| i.seed == cancel.seed && matches!(i.kind, Kind::Sale { .. }))
            .expect("its sale");
        assert!(cancel.minute > sale.minute);
        let (sale_text, _) = context.format_block(std::slice::from_ref(sale), &[1]);
        let (cancel_text, n) = context.format_block(std::slice::from_ref(cancel), &[2]);
        assert!(n >= 1);
        let sale_text = String::from_utf8(sale_text).expect("utf8");
        for line in String::from_utf8(cancel_text).expect("utf8").lines() {
            assert!(line.starts_with("C2,"));
            let code = line.split(',').nth(1).expect("code");
            assert!(
                sale_text.lines().any(|l| l.split(',').nth(1) == Some(code)),
                "returned {code} was not sold"
            );
        }
    }

    #[test]
    fn country_indices_name_the_right_countries() {
        assert_eq!(COUNTRIES[usize::from(UNITED_KINGDOM)].0, "United Kingdom");
        assert_eq!(COUNTRIES[usize::from(EIRE)].0, "EIRE");
    }

    #[test]
    fn forced_sale_has_one_line_for_each_cleaning_step() {
        let catalogue = Catalogue::new(9);
        let calendar = Calendar::new();
        let (customers, invoices) = plan_chunk(9, 0, 0..1, &calendar, &catalogue);
        let context = Context {
            catalogue: &catalogue,
            customers: &customers,
            calendar: &calendar,
        };
        let forced = invoices
            .iter()
            .find(|i| i.kind == Kind::Sale { forced: true })
            .expect("forced sale");
        let (bytes, _) = context.format_block(std::slice::from_ref(forced), &[536_365]);
        let text = String::from_utf8(bytes).expect("utf8");
        let lines: Vec<&str> = text.lines().collect();
        let fields = |line: &str| -> Vec<String> {
            line.rsplitn(6, ',').map(str::to_owned).collect::<Vec<_>>()
        };
        // rsplitn from the right: [country, id, price, date, quantity, rest]
        assert!(lines.iter().all(|l| fields(l)[1] == "12346"));
        assert!(lines.iter().any(|l| fields(l)[2] == "0"));
        assert!(lines
            .iter()
            .any(|l| fields(l)[4].parse::<i32>().expect("qty") <= 0));
        let unique: std::collections::HashSet<&&str> = lines.iter().collect();
        assert!(unique.len() < lines.len(), "no duplicate line");
        assert!(invoices
            .iter()
            .any(|i| i.kind == Kind::Cancel && i.seed == forced.seed));
    }

    #[test]
    fn invoice_numbers_increase_from_the_real_start() {
        let numbers = invoice_numbers(1, 1_000);
        assert_eq!(numbers[0], FIRST_INVOICE_NO);
        assert!(numbers.windows(2).all(|w| w[0] < w[1]));
        let span = numbers[999] - numbers[0];
        assert!((1_500..2_000).contains(&span), "span {span}");
    }
}
