//! The product catalogue of the synthetic shop: StockCodes, descriptions and price points.
//!
//! Shaped like the UCI file's 4,070 codes: mostly 5-digit codes, a quarter of them colour
//! variants with a letter suffix (`85123A`), plus a handful of service codes (`POST`, `M`,
//! `DOT`, …). Every code has one description, written in upper case with the real file's quirks
//! (commas, inch marks, trailing spaces), and a retail, bulk and web price.

use std::collections::HashSet;

use rand::seq::SliceRandom;
use rand::Rng;

use super::{cumulative, log_normal, pick_cumulative, stream_rng};

/// Regular (non-service) codes in the catalogue.
const REGULAR_PRODUCTS: usize = 3_950;
/// Popularity of the product of rank r is 1 / (r + this): a flat head like the real file,
/// whose most sold code has only 0.4 % of the lines.
const POPULARITY_OFFSET: f64 = 50.0;
/// Popularity multiplier of colour variants (`85123A`), which sell less than plain codes.
const SUFFIXED_POPULARITY: f64 = 0.3;

/// Prices are held in thousandths of a pound: the real file has a few 3-decimal prices (0.001).
pub(crate) type Milli = i64;

/// One StockCode.
#[derive(Clone, Debug)]
pub(crate) struct Product {
    /// `CODE,` — for lines whose description is overridden (stock adjustments).
    pub(crate) code_field: Vec<u8>,
    /// `CODE,DESCRIPTION,` with the description CSV-quoted when needed.
    pub(crate) code_and_description: Vec<u8>,
    /// Price for small quantities.
    pub(crate) retail: Milli,
    /// Price for bulk quantities (the real file shows two price points per popular code).
    pub(crate) bulk: Milli,
    /// Price on lines without a customer (web-shop orders are dearer in the real file).
    pub(crate) web: Milli,
}

/// Indices of the service codes within [`Catalogue::products`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct ServiceCodes {
    pub(crate) postage: u32,
    pub(crate) carriage: u32,
    pub(crate) manual: u32,
    pub(crate) dotcom_postage: u32,
    pub(crate) bank_charges: u32,
    pub(crate) amazon_fee: u32,
    pub(crate) pads: u32,
    pub(crate) discount: u32,
    pub(crate) bad_debt: u32,
}

/// All products; regular ones first, then the service codes.
pub(crate) struct Catalogue {
    pub(crate) products: Vec<Product>,
    /// Cumulative popularity over the regular products only.
    popularity: Vec<f64>,
    pub(crate) services: ServiceCodes,
}

impl Catalogue {
    /// Builds the catalogue of `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        let mut rng = stream_rng(seed, "catalogue", 0);
        let mut products = Vec::with_capacity(REGULAR_PRODUCTS + 16);
        let mut used_numbers = HashSet::new();
        let mut used_descriptions = HashSet::new();
        let mut suffix_flags = Vec::with_capacity(REGULAR_PRODUCTS + 16);
        while products.len() < REGULAR_PRODUCTS {
            let number = loop {
                let n: u32 = rng.gen_range(10_002..=90_999);
                if used_numbers.insert(n) {
                    break n;
                }
            };
            // Colour variants share everything but the colour, as 84029E / 84029G do.
            let draw: f64 = rng.gen();
            let variants = if draw < 0.07 { rng.gen_range(2..=6) } else { 1 };
            let suffixed = variants > 1 || draw > 0.95;
            let mut colours: Vec<&str> = COLOURS.to_vec();
            colours.shuffle(&mut rng);
            let mut shape = DescriptionShape::draw(&mut rng);
            for _ in 0..20 {
                if !used_descriptions.contains(&shape.render(colours[0])) {
                    break;
                }
                shape = DescriptionShape::draw(&mut rng);
            }
            shape.with_colour |= variants > 1;
            let retail = retail_price(&mut rng);
            for (variant, colour) in colours.iter().take(variants).enumerate() {
                let code = if suffixed {
                    format!("{number}{}", char::from(b'A' + variant as u8))
                } else {
                    number.to_string()
                };
                let mut description = shape.render(colour);
                // Keep descriptions distinct so that a code's description identifies it.
                if !used_descriptions.insert(description.clone()) {
                    description = format!("{} {}", description.trim_end(), code);
                    used_descriptions.insert(description.clone());
                }
                products.push(Product::new(&code, &description, retail));
                suffix_flags.push(suffixed);
            }
        }
        let regular = products.len();
        let mut ranks: Vec<usize> = (0..regular).collect();
        ranks.shuffle(&mut rng);
        // Suffixed codes are 27 % of the real codes but only 10 % of the lines.
        let popularity = cumulative(ranks.iter().zip(&suffix_flags).map(|(&rank, &suffixed)| {
            let weight = 1.0 / (rank as f64 + POPULARITY_OFFSET);
            if suffixed {
                weight * SUFFIXED_POPULARITY
            } else {
                weight
            }
        }));
        let mut service = |code: &str, description: &str, price: Milli| {
            products.push(Product::new(code, description, price));
            (products.len() - 1) as u32
        };
        let services = ServiceCodes {
            postage: service("POST", "POSTAGE", 18_000),
            carriage: service("C2", "CARRIAGE", 50_000),
            manual: service("M", "Manual", 1_250),
            dotcom_postage: service("DOT", "DOTCOM POSTAGE", 100_000),
            bank_charges: service("BANK CHARGES", "Bank Charges", 15_000),
            amazon_fee: service("AMAZONFEE", "AMAZON FEE", 5_000_000),
            pads: service("PADS", "PADS TO MATCH ALL CUSHIONS", 1),
            discount: service("D", "Discount", 10_000),
            bad_debt: service("B", "Adjust bad debt", 11_062_060),
        };
        Catalogue {
            products,
            popularity,
            services,
        }
    }

    /// Number of regular (sellable) products; they occupy indices `0..regular()`.
    pub(crate) fn regular(&self) -> usize {
        self.popularity.len()
    }

    /// A regular product drawn by popularity.
    pub(crate) fn popular<R: Rng>(&self, rng: &mut R) -> u32 {
        pick_cumulative(rng, &self.popularity) as u32
    }
}

impl Product {
    fn new(code: &str, description: &str, retail: Milli) -> Self {
        let mut code_field = code.as_bytes().to_vec();
        code_field.push(b',');
        let mut code_and_description = code_field.clone();
        push_csv_field(&mut code_and_description, description);
        code_and_description.push(b',');
        // Bulk price: about 14 % off, on a 5p step like the real price lists.
        let bulk = round_to(retail * 86 / 100, 50).max(10).min(retail);
        // Web price: 65 % dearer, to the penny.
        let web = round_to(retail * 165 / 100, 10).max(retail);
        Product {
            code_field,
            code_and_description,
            retail,
            bulk,
            web,
        }
    }
}

/// Rounds `value` to the nearest multiple of `step`.
fn round_to(value: Milli, step: Milli) -> Milli {
    (value + step / 2) / step * step
}

/// A retail price point: heavy-tailed around £2 (real median £2.08, 90th percentile £7.95),
/// on the shop's usual endings (0.42, 2.55, 2.95, 12.75, 14.95).
fn retail_price<R: Rng>(rng: &mut R) -> Milli {
    let pounds = log_normal(rng, 1.9, 0.95).clamp(0.06, 650.0);
    let milli = (pounds * 1000.0).round() as Milli;
    if pounds < 0.5 {
        round_to(milli, 10).max(60)
    } else if pounds < 10.0 {
        let p = round_to(milli, 50);
        // Most real prices end in 5 pence (2.55, 1.65, 4.25).
        if p % 100 == 0 && rng.gen::<f64>() < 0.8 {
            p - 50
        } else {
            p
        }
    } else {
        let whole = round_to(milli, 1000);
        match rng.gen_range(0..4) {
            0 => whole,
            1 => whole - 250,
            _ => whole - 50,
        }
    }
}

/// Appends `field` with minimal CSV quoting (only when it holds a comma, quote or line end).
pub(crate) fn push_csv_field(out: &mut Vec<u8>, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        for byte in field.bytes() {
            if byte == b'"' {
                out.push(b'"');
            }
            out.push(byte);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(field.as_bytes());
    }
}

/// Everything of a description but its colour, so that variants differ only in colour.
struct DescriptionShape {
    style: Style,
    prefix: Option<&'static str>,
    material: Option<&'static str>,
    motif: Option<&'static str>,
    item: &'static str,
    suffix: &'static str,
    inches: u32,
    with_colour: bool,
    trailing_space: bool,
    double_space: bool,
}

#[derive(Clone, Copy)]
enum Style {
    /// `SET OF 3 GLASS RED HEART T-LIGHT HOLDER`
    Plain,
    /// `BIRTHDAY CARD, RETRO SPOT`
    Comma,
    /// `RECORD FRAME 7" SINGLE SIZE`
    Inches,
}

impl DescriptionShape {
    fn draw<R: Rng>(rng: &mut R) -> Self {
        let pick = |rng: &mut R, list: &[&'static str], p: f64| {
            if rng.gen::<f64>() < p {
                list.choose(rng).copied()
            } else {
                None
            }
        };
        let style_draw: f64 = rng.gen();
        // Real shares of lines: 0.9 % with a comma, 0.2 % with a quote.
        let style = if style_draw < 0.015 {
            Style::Comma
        } else if style_draw < 0.019 {
            Style::Inches
        } else {
            Style::Plain
        };
        DescriptionShape {
            style,
            prefix: pick(rng, PREFIXES, 0.3),
            material: pick(rng, MATERIALS, 0.3),
            motif: pick(rng, MOTIFS, 0.65),
            item: ITEMS.choose(rng).copied().unwrap_or("GIFT"),
            suffix: pick(rng, SUFFIXES, 0.15).unwrap_or(""),
            inches: *[5, 7, 8, 10, 12].choose(rng).unwrap_or(&7),
            with_colour: rng.gen::<f64>() < 0.55,
            trailing_space: rng.gen::<f64>() < 0.12,
            double_space: rng.gen::<f64>() < 0.02,
        }
    }

    /// The description of the variant in `colour` (ignored when the shape has no colour slot;
    /// variant families always have one, so their members differ).
    fn render(&self, colour: &str) -> String {
        let colour = if self.with_colour { Some(colour) } else { None };
        let mut words: Vec<&str> = Vec::with_capacity(8);
        match self.style {
            Style::Plain => {
                words.extend(self.prefix);
                words.extend(self.material);
                words.extend(colour);
                words.extend(self.motif);
                words.push(self.item);
            }
            Style::Comma => {
                words.push(self.item);
                words.push(",");
                words.extend(colour);
                words.extend(self.motif.or(self.material));
            }
            Style::Inches => {
                words.extend(colour);
                words.extend(self.motif);
                words.push(self.item);
            }
        }
        let mut text = words.join(" ").replace(" ,", ",");
        if text.ends_with(',') {
            text.push(' ');
        }
        if let Style::Inches = self.style {
            text.push_str(&format!(" {}\" SINGLE SIZE", self.inches));
        }
        if !self.suffix.is_empty() && !text.ends_with(' ') {
            text.push(' ');
            text.push_str(self.suffix);
        }
        if self.double_space {
            text = text.replacen(' ', "  ", 1);
        }
        if self.trailing_space && !text.ends_with(' ') {
            text.push(' ');
        }
        text
    }
}

#[rustfmt::skip]
const PREFIXES: &[&str] = &[
    "SET OF 3", "SET OF 4", "SET OF 6", "SET/6", "SET/10", "PACK OF 12", "PACK OF 20", "PACK OF 60",
    "PACK OF 72", "SET 7", "SMALL", "LARGE", "JUMBO", "MINI", "DOUBLE", "ASSORTED", "VINTAGE",
    "RETRO", "HANGING", "FRENCH", "ENGLISH", "SWEETHEART", "ANTIQUE", "CHILDRENS", "BABY",
    "CHRISTMAS", "EASTER", "PARTY", "TRAVEL", "KITCHEN",
];

#[rustfmt::skip]
const MATERIALS: &[&str] = &[
    "GLASS", "METAL", "WOODEN", "CERAMIC", "PAPER", "FELT", "ENAMEL", "ZINC", "WICKER", "TIN",
    "LACE", "BAMBOO", "WOOLLY", "KNITTED", "PORCELAIN", "ACRYLIC", "CRYSTAL", "SILVER", "GOLD",
    "VELVET", "CANVAS", "FELTCRAFT",
];

#[rustfmt::skip]
const COLOURS: &[&str] = &[
    "RED", "PINK", "BLUE", "GREEN", "WHITE", "BLACK", "IVORY", "CREAM", "PURPLE", "YELLOW",
    "ORANGE", "LILAC", "TURQUOISE", "BROWN", "GREY", "NATURAL", "PASTEL", "SKY BLUE", "DARK PINK",
    "LIGHT BLUE", "AQUA", "ROSE", "CHOCOLATE", "MINT",
];

#[rustfmt::skip]
const MOTIFS: &[&str] = &[
    "RETROSPOT", "POLKADOT", "PAISLEY", "HEART", "STAR", "BIRD", "OWL", "SKULL", "UNION JACK",
    "SPACEBOY", "DOLLY GIRL", "REGENCY", "ROSE", "CHERRY", "STRAWBERRY", "FLORAL", "GINGHAM",
    "LOVE", "CIRCUS PARADE", "WOODLAND", "JUNGLE", "SPOTTY", "STRIPE", "BUTTERFLY", "DAISY",
    "ALPHABET", "DINOSAUR", "FAIRY", "BAROQUE", "SNOWFLAKE", "REINDEER", "ANGEL", "TEA TIME",
    "PANTRY", "PARIS", "TRADITIONAL", "HOMEMADE", "LOVEBIRD", "PEACE", "CHILLI", "APPLE", "GARDEN",
    "SEASIDE", "TOADSTOOL", "BOTANICAL",
];

#[rustfmt::skip]
const ITEMS: &[&str] = &[
    "T-LIGHT HOLDER", "LANTERN", "COAT HANGER", "HOT WATER BOTTLE", "NESTING BOXES", "MUG",
    "TEACUP AND SAUCER", "LUNCH BAG", "JUMBO BAG", "CAKE TIN", "CAKESTAND 3 TIER", "BUNTING",
    "DOORMAT", "CUSHION COVER", "NOTEBOOK", "PURSE", "CANDLE", "PHOTO FRAME", "ALARM CLOCK",
    "TISSUES", "PLASTERS IN TIN", "WATER BOTTLE", "CHARLOTTE BAG", "SHOPPER BAG", "PEG BAG",
    "APRON", "OVEN GLOVE", "TEA TOWELS", "NAPKINS", "PAPER CUPS", "PAPER PLATES", "CAKE CASES",
    "BAKING SET", "JAM JAR", "STORAGE JAR", "BREAD BIN", "WALL CLOCK", "METAL SIGN", "HOOK",
    "DRAWER KNOB", "BIRDHOUSE", "WREATH", "GARLAND", "DECORATION", "BAUBLE", "STOCKING",
    "GIFT WRAP", "GIFT BAG", "WRAPPING PAPER", "GREETING CARD", "BIRTHDAY CARD", "STICKER SHEET",
    "PENCILS", "ERASER", "CHALKBOARD", "MIRROR", "VASE", "BOWL", "PLATE", "SPOON", "TRAY", "BASKET",
    "HANDBAG", "UMBRELLA", "RAIN HAT", "HAIR CLIP", "NECKLACE", "BRACELET", "EARRINGS", "KEY RING",
    "MAGNET", "SNOW GLOBE", "MONEY BOX", "DOLL", "JIGSAW", "SKIPPING ROPE", "SPINNING TOP",
    "BUILDING BLOCK WORD", "CHOPSTICKS", "BOTTLE OPENER", "COASTERS", "PLACEMATS", "SOAP DISH",
    "TOILET ROLL HOLDER", "TOOTHBRUSH HOLDER", "TRINKET BOX", "JEWELLERY BOX", "CANDLESTICK",
    "DOORSTOP", "FLOWER POT", "WATERING CAN", "GARDEN SET", "HAND WARMER", "SCARF", "SLIPPERS",
    "BEAKER", "MILK JUG", "TEAPOT", "EGG CUP", "BUTTON BOX", "SEWING KIT", "RIBBONS",
    "STRING OF 10 LIGHTS", "NIGHT LIGHT", "RECIPE BOX", "CHOPPING BOARD", "MEMO BOARD",
    "PICTURE FRAME", "CLOTHES PEGS", "FRIDGE MAGNETS", "PARASOL", "WASHBAG", "PHOTO ALBUM",
    "PLAYHOUSE KITCHEN", "MUG COSY", "BOTTLE",
];

#[rustfmt::skip]
const SUFFIXES: &[&str] = &[
    "SMALL", "LARGE", "DESIGN", "IN BOX", "WITH LID", "ASSORTED", "SET", "KIT", "HOLDER",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).expect("utf8")
    }

    #[test]
    fn quoting_is_minimal() {
        let mut out = Vec::new();
        push_csv_field(&mut out, "WHITE HANGING HEART ");
        assert_eq!(text(&out), "WHITE HANGING HEART ");
        out.clear();
        push_csv_field(&mut out, "TRAY, BREAKFAST IN BED");
        assert_eq!(text(&out), "\"TRAY, BREAKFAST IN BED\"");
        out.clear();
        push_csv_field(&mut out, "RECORD FRAME 7\" SINGLE SIZE ");
        assert_eq!(text(&out), "\"RECORD FRAME 7\"\" SINGLE SIZE \"");
    }

    #[test]
    fn catalogue_has_a_few_thousand_codes_mostly_five_digits() {
        let catalogue = Catalogue::new(42);
        let regular = catalogue.regular();
        assert!((REGULAR_PRODUCTS..REGULAR_PRODUCTS + 6).contains(&regular));
        let codes: Vec<String> = catalogue.products[..regular]
            .iter()
            .map(|p| text(&p.code_field).trim_end_matches(',').to_owned())
            .collect();
        let unique: HashSet<&String> = codes.iter().collect();
        assert_eq!(unique.len(), regular, "duplicate codes");
        let plain = codes
            .iter()
            .filter(|c| c.len() == 5 && c.bytes().all(|b| b.is_ascii_digit()))
            .count();
        let suffixed = codes
            .iter()
            .filter(|c| c.len() == 6 && c.as_bytes()[5].is_ascii_uppercase())
            .count();
        assert_eq!(plain + suffixed, regular);
        let share = suffixed as f64 / regular as f64;
        assert!((0.15..0.40).contains(&share), "suffixed share {share}");
    }

    #[test]
    fn prices_are_positive_and_bulk_is_not_dearer() {
        let catalogue = Catalogue::new(7);
        for product in &catalogue.products {
            assert!(product.retail > 0);
            assert!(product.bulk > 0 && product.bulk <= product.retail);
            assert!(product.web >= product.retail);
        }
    }

    #[test]
    fn popular_draws_stay_among_regular_products() {
        let catalogue = Catalogue::new(1);
        let mut rng = stream_rng(1, "test", 0);
        for _ in 0..10_000 {
            assert!((catalogue.popular(&mut rng) as usize) < catalogue.regular());
        }
    }

    #[test]
    fn same_seed_same_catalogue() {
        let a = Catalogue::new(3);
        let b = Catalogue::new(3);
        let c = Catalogue::new(4);
        let fields = |cat: &Catalogue| -> Vec<Vec<u8>> {
            cat.products
                .iter()
                .map(|p| p.code_and_description.clone())
                .collect()
        };
        assert_eq!(fields(&a), fields(&b));
        assert_ne!(fields(&a), fields(&c));
    }
}
