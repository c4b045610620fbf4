//! Layer-name patterns: `*` matches any run of characters (including dots), everything else
//! matches itself. The texts the `*`s matched are returned so tie groups can pair layers of the
//! same block (`blk.*.attn_q` and `blk.*.attn_k` tie per block).

/// The texts matched by each `*` of `pattern` in `name`, or `None` when it does not match.
/// Leftmost-shortest matching, so `blk.*.attn_q` captures `3` in `blk.3.attn_q`.
pub fn captures(pattern: &str, name: &str) -> Option<Vec<String>> {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = parts.split_first()?;
    let mut remaining = name.strip_prefix(first)?;
    let mut found = Vec::new();
    for (index, part) in rest.iter().enumerate() {
        let is_last = index + 1 == rest.len();
        let at = if is_last {
            remaining.len().checked_sub(part.len())?
        } else {
            remaining.find(part)?
        };
        if !remaining[at..].starts_with(part) {
            return None;
        }
        found.push(remaining[..at].to_string());
        remaining = &remaining[at + part.len()..];
    }
    remaining.is_empty().then_some(found)
}

/// Whether `name` matches `pattern`.
pub fn matches(pattern: &str, name: &str) -> bool {
    captures(pattern, name).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_and_wildcards() {
        assert!(matches("stem", "stem"));
        assert!(!matches("stem", "stem2"));
        assert_eq!(
            captures("blk.*.attn_q", "blk.12.attn_q"),
            Some(vec!["12".into()])
        );
        assert!(matches("*", "anything.at.all"));
        assert!(matches("res*.conv*", "res1.conv2"));
        assert!(!matches("blk.*.attn_q", "blk.1.attn_k"));
        assert_eq!(
            captures("*.a*", "x.a.a"),
            Some(vec!["x".into(), ".a".into()])
        );
    }
}
