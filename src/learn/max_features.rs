//! How many features a tree split may look at. Depends on serde only, so the fuzz crate
//! (`fuzz/`) can include it with the config loader.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How many features a split may look at.
///
/// Written as the config writes it — `"sqrt"`, `"all"` or the fraction as a number — in the
/// grid's `params`, the summary table and the model file. Model files written before that
/// (`"Sqrt"`, `"All"`, `{"Fraction": 0.5}`) still load.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MaxFeatures {
    /// Every feature at every split.
    All,
    /// `floor(sqrt(n_features))`, at least 1.
    Sqrt,
    /// `floor(fraction · n_features)`, at least 1 and at most all.
    Fraction(f64),
}

impl MaxFeatures {
    /// The number of features to draw per split out of `n_features` (scikit-learn's rounding).
    pub fn count(self, n_features: usize) -> usize {
        let wanted = match self {
            MaxFeatures::All => n_features,
            MaxFeatures::Sqrt => (n_features as f64).sqrt().floor() as usize,
            // `as usize` saturates: a NaN or negative fraction gives 0, then the clamp gives 1.
            MaxFeatures::Fraction(fraction) => (fraction * n_features as f64).floor() as usize,
        };
        wanted.clamp(1, n_features.max(1))
    }

    /// The setting a name stands for, in the config and in model files: `"sqrt"` or `"all"`.
    pub(crate) fn named(name: &str) -> Option<Self> {
        match name {
            "sqrt" => Some(MaxFeatures::Sqrt),
            "all" => Some(MaxFeatures::All),
            _ => None,
        }
    }
}

/// The forms a `MaxFeatures` is read from.
#[derive(Deserialize)]
#[serde(untagged)]
enum Written {
    Fraction(f64),
    Name(String),
    Tagged {
        #[serde(rename = "Fraction")]
        fraction: f64,
    },
}

impl Serialize for MaxFeatures {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            MaxFeatures::All => serializer.serialize_str("all"),
            MaxFeatures::Sqrt => serializer.serialize_str("sqrt"),
            MaxFeatures::Fraction(fraction) => serializer.serialize_f64(*fraction),
        }
    }
}

impl<'de> Deserialize<'de> for MaxFeatures {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Written::deserialize(deserializer)? {
            Written::Fraction(fraction) | Written::Tagged { fraction } => {
                Ok(MaxFeatures::Fraction(fraction))
            }
            Written::Name(name) => {
                // The earlier form capitalised the names.
                let current = match name.as_str() {
                    "Sqrt" => "sqrt",
                    "All" => "all",
                    other => other,
                };
                MaxFeatures::named(current).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "max_features must be \"sqrt\", \"all\" or a number, got {name:?}"
                    ))
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MaxFeatures;

    #[test]
    fn written_as_the_config_writes_it() {
        for (value, text) in [
            (MaxFeatures::Sqrt, "\"sqrt\""),
            (MaxFeatures::All, "\"all\""),
            (MaxFeatures::Fraction(0.5), "0.5"),
        ] {
            assert_eq!(serde_json::to_string(&value).unwrap(), text);
            assert_eq!(serde_json::from_str::<MaxFeatures>(text).unwrap(), value);
        }
    }

    #[test]
    fn model_files_of_the_earlier_form_still_load() {
        for (text, value) in [
            ("\"Sqrt\"", MaxFeatures::Sqrt),
            ("\"All\"", MaxFeatures::All),
            ("{\"Fraction\":0.25}", MaxFeatures::Fraction(0.25)),
        ] {
            assert_eq!(serde_json::from_str::<MaxFeatures>(text).unwrap(), value);
        }
        let error = serde_json::from_str::<MaxFeatures>("\"log2\"").unwrap_err();
        assert!(error.to_string().contains("max_features"), "{error}");
    }
}
