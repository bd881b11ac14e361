//! Yelp business lines never panic the parser; an error's column lies within the line; a parsed
//! business written back as a JSON object parses to the same business.
#![no_main]

use fluz_fuzz::json_line::{parse_business_line, LineError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for line in data.split(|&b| b == b'\n') {
        match parse_business_line(line) {
            Ok(business) => {
                let back = serde_json::json!({
                    "business_id": business.business_id,
                    "name": business.name,
                    "address": business.address,
                    "city": business.city,
                    "state": business.state,
                    "postal_code": business.postal_code,
                    "latitude": business.latitude,
                    "longitude": business.longitude,
                    "stars": business.stars,
                    "review_count": business.review_count,
                    "is_open": business.is_open,
                    "categories": business.categories,
                });
                let text = serde_json::to_vec(&back).expect("serialise");
                assert_eq!(parse_business_line(&text), Ok(business));
            }
            Err(LineError::Json { column, why }) => {
                assert!(column <= line.len() + 1, "column {column} past the line");
                assert!(!why.is_empty());
            }
            Err(LineError::Field(why)) => assert!(!why.is_empty()),
        }
    }
});
