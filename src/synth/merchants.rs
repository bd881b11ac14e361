//! Synthetic merchants in the Yelp `yelp_academic_dataset_business.json` format.
//!
//! One JSON object per line with the 14 standard fields in Yelp's order. Values follow the
//! 2022 release: cities of the Yelp metro areas with their states, postal codes and
//! coordinates; stars in half steps with the real distribution; heavy-tailed review counts
//! (from 5 up); about a quarter of businesses in `Shopping`; Yelp's string-typed attributes
//! (`"True"`, `"u'free'"`, `"{'garage': False, …}"`); `"Monday":"0:0-0:0"` style hours; nulls
//! where Yelp has them. Names carry the quotes, ampersands and apostrophes of real names, and
//! two merchants, always present and always in `Shopping`, carry hostile names for the
//! dashboard's escaping tests.

use std::collections::HashSet;
use std::io::{self, Write};

use rand::seq::SliceRandom;
use rand::Rng;
use serde::ser::{Serialize, Serializer};

use super::{cumulative, log_normal, pick_cumulative, standard_normal, stream_rng};

/// Merchant name the dashboard's XSS test looks for (always a `Shopping` merchant).
pub(crate) const XSS_NAME: &str = "<img src=x onerror=alert(1)>";
/// Merchant name the SQL-injection test looks for (always a `Shopping` merchant).
pub(crate) const SQL_NAME: &str = "'); drop table transactions; --";

/// Writes `count` (≥ 2) merchants; returns `count`.
pub(crate) fn write_merchants<W: Write>(count: usize, seed: u64, out: &mut W) -> io::Result<usize> {
    let mut rng = stream_rng(seed, "merchants", 0);
    let groups = cumulative(GROUPS.iter().map(|g| g.weight));
    let cities = cumulative(CITIES.iter().map(|c| c.weight));
    let stars = cumulative(STARS.iter().map(|s| s.1));
    let mut ids = HashSet::with_capacity(count);
    let mut line = Vec::with_capacity(2048);
    for index in 0..count {
        // Spread out rather than first, so they are not an artefact of file order.
        let hostile = if index == count / 3 {
            Some(XSS_NAME)
        } else if index == 2 * count / 3 {
            Some(SQL_NAME)
        } else {
            None
        };
        let group = if hostile.is_some() {
            &GROUPS[SHOPPING]
        } else {
            &GROUPS[pick_cumulative(&mut rng, &groups)]
        };
        let business_id = loop {
            let id = business_id(&mut rng);
            if ids.insert(id.clone()) {
                break id;
            }
        };
        let city = &CITIES[pick_cumulative(&mut rng, &cities)];
        let drawn_name = name(&mut rng, group, city.name);
        let business = Business {
            business_id,
            name: hostile.map_or(drawn_name, str::to_owned),
            address: address(&mut rng),
            city: city.name,
            state: city.state,
            postal_code: postal_code(&mut rng, city),
            latitude: round7(city.latitude + 0.07 * standard_normal(&mut rng)),
            longitude: round7(city.longitude + 0.09 * standard_normal(&mut rng)),
            stars: STARS[pick_cumulative(&mut rng, &stars)].0,
            review_count: 5 + log_normal(&mut rng, 10.0, 1.7).round().min(9_000.0) as u32,
            is_open: u8::from(rng.gen::<f64>() < 0.79),
            attributes: attributes(&mut rng, group),
            categories: categories(&mut rng, group, hostile.is_some()),
            hours: hours(&mut rng, group),
        };
        line.clear();
        serde_json::to_writer(&mut line, &business).map_err(io::Error::from)?;
        line.push(b'\n');
        out.write_all(&line)?;
    }
    Ok(count)
}

/// One Yelp business, fields in Yelp's order.
#[derive(serde::Serialize)]
struct Business {
    business_id: String,
    name: String,
    address: String,
    city: &'static str,
    state: &'static str,
    postal_code: String,
    latitude: f64,
    longitude: f64,
    stars: f64,
    review_count: u32,
    is_open: u8,
    attributes: Option<Pairs>,
    categories: Option<String>,
    hours: Option<Pairs>,
}

/// A JSON object whose keys keep their insertion order (hours run Monday to Sunday).
struct Pairs(Vec<(&'static str, String)>);

impl Serialize for Pairs {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(key, value)| (key, value)))
    }
}

/// 22 characters: 16 random bytes in URL-safe base64 without padding, as Yelp's ids are.
fn business_id<R: Rng>(rng: &mut R) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bits: u128 = rng.gen();
    // 22 six-bit groups cover 132 bits; the last group holds the final 2 bits padded with 0s.
    (0..22)
        .map(|i| {
            let shift = 128i32 - 6 * (i + 1);
            let group = if shift >= 0 {
                (bits >> shift) & 0x3f
            } else {
                (bits << -shift) & 0x3f
            };
            char::from(ALPHABET[group as usize])
        })
        .collect()
}

fn round7(degrees: f64) -> f64 {
    (degrees * 1e7).round() / 1e7
}

/// A business kind: its top-level category, sub-categories, name nouns and attribute style.
struct Group {
    primary: &'static str,
    weight: f64,
    extras: &'static [&'static str],
    nouns: &'static [&'static str],
    chains: &'static [&'static str],
    style: Style,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Restaurant,
    Shop,
    Service,
}

/// Index of the `Shopping` group in [`GROUPS`].
const SHOPPING: usize = 0;

#[rustfmt::skip]
const GROUPS: &[Group] = &[
    Group {
        primary: "Shopping",
        weight: 25.0,
        extras: &[
            "Fashion", "Home & Garden", "Women's Clothing", "Men's Clothing", "Shoe Stores",
            "Jewelry", "Books, Mags, Music & Video", "Bookstores", "Gift Shops", "Flowers & Gifts",
            "Sporting Goods", "Electronics", "Department Stores", "Furniture Stores", "Antiques",
            "Thrift Stores", "Toy Stores", "Arts & Crafts", "Cosmetics & Beauty Supply",
            "Hardware Stores", "Discount Store", "Mobile Phones", "Eyewear & Opticians",
            "Accessories", "Used, Vintage & Consignment", "Pet Stores",
        ],
        nouns: &[
            "Boutique", "Books", "Gifts", "Outfitters", "Hardware", "Jewelers", "Antiques",
            "Thrift Store", "Florist", "Cycles", "Vintage", "Home Goods", "Toys", "Emporium",
            "Trading Co.", "Market", "Closet", "Optical", "Records", "Supply Co.", "Goods",
        ],
        chains: &[
            "Target", "Walgreens", "CVS Pharmacy", "Barnes & Noble Booksellers", "H&M", "T.J. Maxx",
            "Marshalls", "Dollar Tree", "Ross Dress for Less", "Ulta Beauty", "Kohl's",
            "Hobby Lobby", "Macy's", "Nordstrom Rack", "Lowe's Home Improvement", "Five Below",
            "Old Navy", "GameStop", "Bed Bath & Beyond", "Michaels",
        ],
        style: Style::Shop,
    },
    Group {
        primary: "Restaurants",
        weight: 30.0,
        extras: &[
            "Pizza", "Italian", "Mexican", "Chinese", "Sandwiches", "Burgers",
            "American (Traditional)", "American (New)", "Breakfast & Brunch", "Seafood", "Japanese",
            "Sushi Bars", "Thai", "Salad", "Fast Food", "Chicken Wings", "Delis", "Vietnamese",
            "Indian", "Mediterranean", "Cajun/Creole", "Barbeque", "Steakhouses", "Food",
            "Nightlife", "Bars",
        ],
        nouns: &[
            "Pizza", "Grill", "Cafe", "Kitchen", "Tacos", "Sushi", "Bistro", "Diner", "BBQ",
            "Noodle House", "Tavern", "Trattoria", "Eatery", "Burger Bar", "Smokehouse", "Deli",
        ],
        chains: &[
            "McDonald's", "Chick-fil-A", "Subway", "Taco Bell", "Wendy's", "Chipotle Mexican Grill",
            "Panera Bread", "Domino's Pizza", "Papa John's Pizza", "Five Guys",
        ],
        style: Style::Restaurant,
    },
    Group {
        primary: "Food",
        weight: 10.0,
        extras: &[
            "Coffee & Tea", "Bakeries", "Desserts", "Specialty Food", "Grocery",
            "Ice Cream & Frozen Yogurt", "Juice Bars & Smoothies", "Donuts", "Beer",
            "Wine & Spirits", "Bubble Tea",
        ],
        nouns: &[
            "Coffee", "Bakery", "Creamery", "Donuts", "Pastries", "Juice Co.", "Market", "Roasters",
            "Sweets", "Wine & Spirits",
        ],
        chains: &["Starbucks", "Dunkin'", "Trader Joe's", "Whole Foods Market"],
        style: Style::Restaurant,
    },
    Group {
        primary: "Beauty & Spas",
        weight: 8.0,
        extras: &[
            "Nail Salons", "Hair Salons", "Skin Care", "Hair Removal", "Waxing", "Massage",
            "Day Spas", "Barbers", "Eyelash Service", "Tanning",
        ],
        nouns: &[
            "Salon", "Nails", "Spa", "Barber Shop", "Beauty Bar", "Lash Studio", "Skin Care",
        ],
        chains: &["Great Clips", "Supercuts", "European Wax Center"],
        style: Style::Service,
    },
    Group {
        primary: "Home Services",
        weight: 7.0,
        extras: &[
            "Contractors", "Plumbing", "Heating & Air Conditioning/HVAC", "Real Estate",
            "Electricians", "Landscaping", "Movers", "Roofing", "Handyman",
        ],
        nouns: &[
            "Plumbing", "Roofing", "Electric", "Movers", "Landscaping", "Builders", "HVAC",
        ],
        chains: &["Two Men and a Truck"],
        style: Style::Service,
    },
    Group {
        primary: "Automotive",
        weight: 5.0,
        extras: &[
            "Auto Repair", "Tires", "Oil Change Stations", "Car Dealers", "Body Shops", "Car Wash",
            "Auto Parts & Supplies",
        ],
        nouns: &[
            "Auto Repair", "Tire & Auto", "Motors", "Auto Body", "Car Wash", "Garage",
        ],
        chains: &[
            "Jiffy Lube", "Discount Tire", "AutoZone Auto Parts", "Firestone Complete Auto Care",
        ],
        style: Style::Service,
    },
    Group {
        primary: "Health & Medical",
        weight: 6.0,
        extras: &[
            "Doctors", "Dentists", "General Dentistry", "Chiropractors", "Optometrists",
            "Physical Therapy", "Naturopathic/Holistic", "Acupuncture",
        ],
        nouns: &[
            "Family Dentistry", "Chiropractic", "Medical Center", "Eye Care", "Physical Therapy",
        ],
        chains: &[],
        style: Style::Service,
    },
    Group {
        primary: "Nightlife",
        weight: 3.0,
        extras: &[
            "Bars", "Pubs", "Cocktail Bars", "Sports Bars", "Lounges", "Dive Bars",
        ],
        nouns: &[
            "Pub", "Tavern", "Lounge", "Saloon", "Taproom", "Bar & Grill",
        ],
        chains: &[],
        style: Style::Restaurant,
    },
    Group {
        primary: "Active Life",
        weight: 3.0,
        extras: &[
            "Fitness & Instruction", "Gyms", "Yoga", "Parks", "Trainers", "Golf",
        ],
        nouns: &[
            "Fitness", "Yoga", "CrossFit", "Athletic Club", "Golf Club", "Climbing",
        ],
        chains: &["Planet Fitness", "Orangetheory Fitness"],
        style: Style::Service,
    },
    Group {
        primary: "Local Services",
        weight: 3.0,
        extras: &[
            "Shipping Centers", "Notaries", "Printing Services", "Dry Cleaning & Laundry",
            "Self Storage", "Sewing & Alterations",
        ],
        nouns: &["Cleaners", "Printing", "Storage", "Alterations", "Shipping"],
        chains: &["The UPS Store", "FedEx Office Print & Ship Center"],
        style: Style::Service,
    },
    Group {
        primary: "Event Planning & Services",
        weight: 2.0,
        extras: &[
            "Venues & Event Spaces", "Caterers", "Photographers", "Party Supplies", "Hotels",
        ],
        nouns: &["Events", "Catering", "Photography", "Banquet Hall"],
        chains: &[],
        style: Style::Service,
    },
    Group {
        primary: "Pets",
        weight: 2.0,
        extras: &[
            "Pet Services", "Veterinarians", "Pet Groomers", "Dog Walkers", "Pet Sitting",
        ],
        nouns: &[
            "Animal Hospital", "Pet Grooming", "Veterinary Clinic", "Dog Daycare",
        ],
        chains: &["Banfield Pet Hospital"],
        style: Style::Service,
    },
];

struct City {
    name: &'static str,
    state: &'static str,
    /// First three digits of the ZIP code; empty for Canadian postal codes.
    zip: &'static str,
    latitude: f64,
    longitude: f64,
    weight: f64,
}

/// Keeps the [`CITIES`] table one line per city.
const fn city(
    name: &'static str,
    state: &'static str,
    zip: &'static str,
    latitude: f64,
    longitude: f64,
    weight: f64,
) -> City {
    City {
        name,
        state,
        zip,
        latitude,
        longitude,
        weight,
    }
}

/// Yelp 2022 metro areas (name, state, ZIP prefix, centre), weighted like the real file's
/// first 5,000 businesses.
const CITIES: &[City] = &[
    city("Philadelphia", "PA", "191", 39.9526, -75.1652, 480.0),
    city("Tucson", "AZ", "857", 32.2226, -110.9747, 329.0),
    city("Tampa", "FL", "336", 27.9506, -82.4572, 321.0),
    city("Indianapolis", "IN", "462", 39.7684, -86.1581, 261.0),
    city("Nashville", "TN", "372", 36.1627, -86.7816, 245.0),
    city("New Orleans", "LA", "701", 29.9511, -90.0715, 223.0),
    city("Reno", "NV", "895", 39.5296, -119.8138, 223.0),
    city("Edmonton", "AB", "", 53.5461, -113.4938, 184.0),
    city("Saint Louis", "MO", "631", 38.6270, -90.1994, 145.0),
    city("Santa Barbara", "CA", "931", 34.4208, -119.6982, 114.0),
    city("Boise", "ID", "837", 43.6150, -116.2023, 89.0),
    city("Clearwater", "FL", "337", 27.9659, -82.8001, 68.0),
    city("Franklin", "TN", "370", 35.9251, -86.8689, 55.0),
    city("Sparks", "NV", "894", 39.5349, -119.7527, 49.0),
    city("St. Louis", "MO", "631", 38.6270, -90.1994, 45.0),
    city("Metairie", "LA", "700", 29.9841, -90.1529, 44.0),
    city("Saint Petersburg", "FL", "337", 27.7676, -82.6403, 44.0),
    city("Wilmington", "DE", "198", 39.7391, -75.5398, 41.0),
    city("Cherry Hill", "NJ", "080", 39.9348, -75.0307, 40.0),
    city("West Chester", "PA", "193", 39.9607, -75.6055, 35.0),
    city("Brandon", "FL", "335", 27.9378, -82.2859, 30.0),
    city("Carmel", "IN", "460", 39.9784, -86.1180, 28.0),
    city("Goleta", "CA", "931", 34.4358, -119.8276, 20.0),
    city("Meridian", "ID", "836", 43.6121, -116.3915, 20.0),
    city("Kenner", "LA", "700", 29.9941, -90.2417, 18.0),
];

/// Stars with their counts in the real file's first 5,000 businesses.
const STARS: &[(f64, f64)] = &[
    (1.0, 66.0),
    (1.5, 166.0),
    (2.0, 333.0),
    (2.5, 491.0),
    (3.0, 590.0),
    (3.5, 866.0),
    (4.0, 1053.0),
    (4.5, 910.0),
    (5.0, 525.0),
];

#[rustfmt::skip]
const SURNAMES: &[&str] = &[
    "Tony", "Maria", "Joe", "Sal", "Mike", "Rosie", "Sam", "Lou", "Frank", "Nina", "Kelly",
    "O'Brien", "Murphy", "Nguyen", "Garcia", "Patel", "Kim", "Rossi", "Schmidt", "Johnson",
    "Miller", "Davis", "Lopez", "Chen", "Walker", "Baker", "Reyes", "D'Angelo", "McKenzie", "Abby",
    "Grace", "Lily", "Hank", "Charlie", "Dot",
];

#[rustfmt::skip]
const ADJECTIVES: &[&str] = &[
    "Golden", "Blue", "Little", "Happy", "Urban", "Old Town", "Lucky", "Green", "Silver", "Sunny",
    "Red Door", "Village", "Main Street", "Southern", "Royal", "Crescent", "Desert", "Bayou",
    "River", "Prairie", "Magnolia", "Copper",
];

#[rustfmt::skip]
const SLOGANS: &[&str] = &[
    "Floor Removal Experts", "The Original", "Since 1985", "Best in Town", "Family Owned",
];

/// A business name: a chain, a possessive, a pairing with `&`, or a quoted slogan.
fn name<R: Rng>(rng: &mut R, group: &Group, city: &str) -> String {
    let noun = group.nouns.choose(rng).copied().unwrap_or("Shop");
    let other = group.nouns.choose(rng).copied().unwrap_or("Co.");
    let surname = SURNAMES.choose(rng).copied().unwrap_or("Sam");
    let partner = SURNAMES.choose(rng).copied().unwrap_or("Lou");
    let adjective = ADJECTIVES.choose(rng).copied().unwrap_or("Golden");
    let slogan = SLOGANS.choose(rng).copied().unwrap_or("The Original");
    let draw: f64 = rng.gen();
    match group.chains.choose(rng) {
        Some(chain) if draw < 0.08 => (*chain).to_owned(),
        _ if draw < 0.35 => format!("{surname}'s {noun}"),
        _ if draw < 0.55 => format!("{adjective} {noun}"),
        _ if draw < 0.65 && noun != other => format!("{noun} & {other}"),
        _ if draw < 0.75 => format!("The {adjective} {noun}"),
        _ if draw < 0.85 => format!("{city} {noun}"),
        _ if draw < 0.93 => format!("{surname} & {partner} {noun}"),
        _ if draw < 0.99 => format!("{surname} {noun}"),
        _ => format!("{surname} {noun} \"{slogan}\""),
    }
}

#[rustfmt::skip]
const STREETS: &[&str] = &[
    "Chapala St", "E Broadway Blvd", "Race St", "Walnut St", "Main St", "Market St", "Chestnut St",
    "N 4th St", "W Kennedy Blvd", "N Dale Mabry Hwy", "Magazine St", "Canal St", "S Virginia St",
    "Whyte Ave NW", "Jasper Ave NW", "Broadway", "Church St", "State St", "N Meridian St",
    "Massachusetts Ave", "Germantown Pike", "Baltimore Pike", "Olive Blvd", "Washington Ave",
    "E Speedway Blvd", "N Oracle Rd", "Gulf to Bay Blvd", "Central Ave", "W Fairview Ave",
    "N Eagle Rd", "Kirkwood Hwy", "Haddonfield Rd", "Route 70", "W Chester Pike",
    "Veterans Memorial Blvd", "Charlotte Pike", "Grasso Plaza Shopping Center",
];

fn address<R: Rng>(rng: &mut R) -> String {
    let draw: f64 = rng.gen();
    let number = log_normal(rng, 900.0, 1.2).round().clamp(1.0, 29_999.0) as u32;
    let street = STREETS.choose(rng).copied().unwrap_or("Main St");
    let suite = rng.gen_range(1..=30) * 10 + rng.gen_range(0..10);
    if draw < 0.04 {
        String::new()
    } else if draw < 0.16 {
        format!("{number} {street}, Ste {suite}")
    } else {
        format!("{number} {street}")
    }
}

fn postal_code<R: Rng>(rng: &mut R, city: &City) -> String {
    if city.zip.is_empty() {
        // Edmonton: `T5J 0N3` (Canada Post never uses D, F, I, O, Q or U).
        const LETTERS: &[u8] = b"ABCEGHJKLMNPRSTVWXYZ";
        let letter = |rng: &mut R| char::from(LETTERS[rng.gen_range(0..LETTERS.len())]);
        format!(
            "T{}{} {}{}{}",
            rng.gen_range(5..=6),
            letter(rng),
            rng.gen_range(0..10),
            letter(rng),
            rng.gen_range(0..10)
        )
    } else {
        format!("{}{:02}", city.zip, rng.gen_range(0..100))
    }
}

/// Yelp's comma-separated categories (null for 0.1 % of businesses).
fn categories<R: Rng>(rng: &mut R, group: &Group, force: bool) -> Option<String> {
    let extra_count = log_normal(rng, 2.5, 0.6).round().clamp(1.0, 12.0) as usize;
    if !force && rng.gen::<f64>() < 0.001 {
        return None;
    }
    let mut list: Vec<&str> = group
        .extras
        .choose_multiple(rng, extra_count.min(group.extras.len()))
        .copied()
        .collect();
    list.push(group.primary);
    list.shuffle(rng);
    Some(list.join(", "))
}

fn yes_no<R: Rng>(rng: &mut R) -> String {
    let draw: f64 = rng.gen();
    if draw < 0.02 {
        "None"
    } else if draw < 0.65 {
        "True"
    } else {
        "False"
    }
    .to_owned()
}

/// Yelp's Python-repr dictionary inside a string, e.g. `{'garage': False, 'lot': True}`.
fn flags<R: Rng>(rng: &mut R, keys: &[&str], p_true: f64) -> String {
    let parts: Vec<String> = keys
        .iter()
        .map(|key| {
            let value = if rng.gen::<f64>() < p_true {
                "True"
            } else {
                "False"
            };
            format!("'{key}': {value}")
        })
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// Attributes object (null for 9 % of businesses), keys and values as Yelp writes them.
fn attributes<R: Rng>(rng: &mut R, group: &Group) -> Option<Pairs> {
    if rng.gen::<f64>() < 0.09 {
        return None;
    }
    let mut pairs: Vec<(&'static str, String)> = Vec::new();
    let mut maybe = |rng: &mut R, key: &'static str, p: f64, value: String| {
        if rng.gen::<f64>() < p {
            pairs.push((key, value));
        }
    };
    let v = yes_no(rng);
    maybe(rng, "BusinessAcceptsCreditCards", 0.85, v);
    let v = flags(rng, &["garage", "street", "validated", "lot", "valet"], 0.3);
    maybe(rng, "BusinessParking", 0.7, v);
    let v = yes_no(rng);
    maybe(rng, "BikeParking", 0.5, v);
    let v = rng.gen_range(1..=4).to_string();
    let p = if group.style == Style::Service {
        0.1
    } else {
        0.7
    };
    maybe(rng, "RestaurantsPriceRange2", p, v);
    let v = yes_no(rng);
    maybe(rng, "WheelchairAccessible", 0.25, v);
    match group.style {
        Style::Restaurant => {
            for key in [
                "RestaurantsTakeOut",
                "RestaurantsDelivery",
                "OutdoorSeating",
                "GoodForKids",
                "HasTV",
                "RestaurantsReservations",
                "RestaurantsGoodForGroups",
                "Caters",
            ] {
                let v = yes_no(rng);
                maybe(rng, key, 0.8, v);
            }
            let v = ["u'free'", "u'no'", "'free'", "u'paid'"]
                .choose(rng)
                .copied()
                .unwrap_or("u'no'")
                .to_owned();
            maybe(rng, "WiFi", 0.7, v);
            let v = ["u'none'", "u'full_bar'", "u'beer_and_wine'", "'none'"]
                .choose(rng)
                .copied()
                .unwrap_or("u'none'")
                .to_owned();
            maybe(rng, "Alcohol", 0.7, v);
            let v = ["u'average'", "u'quiet'", "u'loud'", "'average'"]
                .choose(rng)
                .copied()
                .unwrap_or("u'average'")
                .to_owned();
            maybe(rng, "NoiseLevel", 0.6, v);
            maybe(rng, "RestaurantsAttire", 0.6, "u'casual'".to_owned());
            let v = flags(
                rng,
                &[
                    "touristy", "hipster", "romantic", "divey", "intimate", "trendy", "upscale",
                    "classy", "casual",
                ],
                0.15,
            );
            maybe(rng, "Ambience", 0.6, v);
        }
        Style::Shop => {
            let v = yes_no(rng);
            maybe(rng, "DogsAllowed", 0.2, v);
            let v = yes_no(rng);
            maybe(rng, "BusinessAcceptsBitcoin", 0.15, v);
            let v = yes_no(rng);
            maybe(rng, "ByAppointmentOnly", 0.2, v);
        }
        Style::Service => {
            let v = yes_no(rng);
            maybe(rng, "ByAppointmentOnly", 0.7, v);
            let v = yes_no(rng);
            maybe(rng, "AcceptsInsurance", 0.15, v);
        }
    }
    Some(Pairs(pairs))
}

const WEEK: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Opening hours (null for 16 % of businesses) in Yelp's `8:0-18:30` form.
fn hours<R: Rng>(rng: &mut R, group: &Group) -> Option<Pairs> {
    if rng.gen::<f64>() < 0.16 {
        return None;
    }
    let (opens, closes): (&[u32], &[u32]) = match group.style {
        Style::Restaurant => (&[6, 7, 10, 11, 11, 16], &[14, 20, 21, 22, 22, 23, 2]),
        Style::Shop => (&[9, 10, 10, 11], &[17, 18, 19, 20, 21]),
        Style::Service => (&[7, 8, 8, 9, 9, 10], &[16, 17, 17, 18, 19]),
    };
    let open = opens.choose(rng).copied().unwrap_or(9);
    let close = closes.choose(rng).copied().unwrap_or(17);
    let close_minute = *[0, 0, 0, 30].choose(rng).unwrap_or(&0);
    let days: &[usize] = match rng.gen_range(0..100) {
        0..=54 => &[0, 1, 2, 3, 4, 5, 6],
        55..=74 => &[0, 1, 2, 3, 4, 5],
        75..=86 => &[0, 1, 2, 3, 4],
        87..=94 => &[1, 2, 3, 4, 5, 6],
        _ => &[2, 3, 4, 5],
    };
    // Yelp's most frequent value: "0:0-0:0" on Mondays.
    let closed_monday = rng.gen::<f64>() < 0.3;
    let pairs = days
        .iter()
        .map(|&day| {
            let value = if day == 0 && closed_monday {
                "0:0-0:0".to_owned()
            } else {
                format!("{open}:0-{close}:{close_minute}")
            };
            (WEEK[day], value)
        })
        .collect();
    Some(Pairs(pairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(count: usize, seed: u64) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        write_merchants(count, seed, &mut out).expect("write");
        String::from_utf8(out)
            .expect("utf8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect()
    }

    #[test]
    fn fields_come_in_yelps_order() {
        let mut out = Vec::new();
        write_merchants(3, 1, &mut out).expect("write");
        let text = String::from_utf8(out).expect("utf8");
        let first = text.lines().next().expect("a line");
        let keys = [
            "business_id",
            "name",
            "address",
            "city",
            "state",
            "postal_code",
            "latitude",
            "longitude",
            "stars",
            "review_count",
            "is_open",
            "attributes",
            "categories",
            "hours",
        ];
        let mut at = 0;
        for key in keys {
            let found = first[at..].find(&format!("\"{key}\":")).expect(key);
            at += found;
        }
    }

    #[test]
    fn business_ids_are_22_url_safe_characters() {
        let mut rng = stream_rng(1, "test", 0);
        for _ in 0..100 {
            let id = business_id(&mut rng);
            assert_eq!(id.len(), 22);
            // The last character carries 2 bits, as in real ids (…A, …Q, …g, …w).
            assert!("AQgw".contains(&id[21..]), "{id}");
        }
    }

    #[test]
    fn about_a_quarter_are_shopping_and_review_counts_are_heavy_tailed() {
        let values = lines(4_000, 11);
        let shopping = values
            .iter()
            .filter(|v| {
                v["categories"]
                    .as_str()
                    .is_some_and(|c| c.split(", ").any(|x| x == "Shopping"))
            })
            .count();
        let share = shopping as f64 / values.len() as f64;
        assert!((0.2..0.3).contains(&share), "shopping share {share}");
        let mut reviews: Vec<u64> = values
            .iter()
            .map(|v| v["review_count"].as_u64().expect("count"))
            .collect();
        reviews.sort_unstable();
        assert!(reviews[0] >= 5);
        assert!(reviews[reviews.len() * 99 / 100] > 10 * reviews[reviews.len() / 2]);
    }

    #[test]
    fn names_include_quotes_ampersands_and_apostrophes() {
        let names: Vec<String> = lines(3_000, 3)
            .iter()
            .map(|v| v["name"].as_str().expect("name").to_owned())
            .collect();
        for c in ['\'', '&', '"'] {
            assert!(names.iter().any(|n| n.contains(c)), "no name with {c}");
        }
    }

    #[test]
    fn hostile_names_are_shopping_merchants() {
        for count in [2, 3, 300] {
            let values = lines(count, 5);
            for hostile in [XSS_NAME, SQL_NAME] {
                let merchant = values
                    .iter()
                    .find(|v| v["name"] == hostile)
                    .expect("hostile merchant present");
                let categories = merchant["categories"].as_str().expect("categories");
                assert!(categories.split(", ").any(|c| c == "Shopping"));
            }
        }
    }

    #[test]
    fn nulls_appear_where_yelp_has_them() {
        let values = lines(2_000, 9);
        assert!(values.iter().any(|v| v["attributes"].is_null()));
        assert!(values.iter().any(|v| v["hours"].is_null()));
        assert!(values.iter().any(|v| v["hours"]["Monday"] == "0:0-0:0"));
    }
}
