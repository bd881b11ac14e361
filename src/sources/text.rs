//! Small text helpers for error messages (no dependencies, so the fuzz crate can include it).

/// A value as quoted in an error message: at most 40 characters, so a 10 MB field does not
/// make a 10 MB message.
pub fn shown(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        format!("{text:?}")
    } else {
        let head: String = text.chars().take(MAX).collect();
        format!("{head:?}… ({} bytes)", text.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut() {
        assert_eq!(shown("1,5"), "\"1,5\"");
        let long = "x".repeat(10_000);
        assert_eq!(shown(&long), format!("{:?}… (10000 bytes)", "x".repeat(40)));
    }
}
