//! Punycode (RFC 3492): how a host name with non-ASCII letters is written in the ASCII that DNS and
//! HTTP carry. `bücher` becomes `bcher-kva`: the ASCII letters first, then, after the last `-`, the
//! positions and code points of the others as base-36 digits. The URL rule that uses it (a label
//! with non-ASCII letters is lowercased and sent as `xn--` and its Punycode) is in
//! [`crate::http::url`].
//!
//! Hand-written: the algorithm is one page of RFC 3492, while the `idna` crate adds the full
//! Unicode mapping tables (UTS #46) and a dozen crates for normalisation that a downloader's users
//! rarely need: a host typed from a keyboard or pasted from a page is already in the composed,
//! lowercase form the mapping would produce, apart from case, which is folded here.

const BASE: u32 = 36;
const T_MIN: u32 = 1;
const T_MAX: u32 = 26;
const SKEW: u32 = 38;
const DAMP: u32 = 700;
const INITIAL_BIAS: u32 = 72;
const INITIAL_N: u32 = 0x80;

/// The Punycode of `label` (without the `xn--` prefix), or `None` if it is too long to encode
/// (an overflow, for labels far longer than DNS allows).
pub(crate) fn encode(label: &str) -> Option<String> {
    let input: Vec<u32> = label.chars().map(u32::from).collect();
    let mut output: String = label.chars().filter(char::is_ascii).collect();
    let basic = output.len() as u32;
    let mut handled = basic;
    if basic > 0 {
        output.push('-');
    }
    let (mut n, mut delta, mut bias) = (INITIAL_N, 0u32, INITIAL_BIAS);
    while (handled as usize) < input.len() {
        // The smallest code point not handled yet.
        let m = input.iter().copied().filter(|&c| c >= n).min()?;
        delta = delta.checked_add((m - n).checked_mul(handled + 1)?)?;
        n = m;
        for &c in &input {
            if c < n {
                delta = delta.checked_add(1)?;
            }
            if c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = threshold(k, bias);
                    if q < t {
                        break;
                    }
                    output.push(digit(t + (q - t) % (BASE - t)));
                    q = (q - t) / (BASE - t);
                    k += BASE;
                }
                output.push(digit(q));
                bias = adapt(delta, handled + 1, handled == basic);
                delta = 0;
                handled += 1;
            }
        }
        delta = delta.checked_add(1)?;
        n = n.checked_add(1)?;
    }
    Some(output)
}

fn threshold(k: u32, bias: u32) -> u32 {
    if k <= bias {
        T_MIN
    } else if k >= bias + T_MAX {
        T_MAX
    } else {
        k - bias
    }
}

fn digit(value: u32) -> char {
    match value {
        0..=25 => char::from(b'a' + value as u8),
        _ => char::from(b'0' + (value - 26) as u8),
    }
}

fn adapt(delta: u32, points: u32, first: bool) -> u32 {
    let mut delta = if first { delta / DAMP } else { delta / 2 };
    delta += delta / points;
    let mut k = 0;
    while delta > ((BASE - T_MIN) * T_MAX) / 2 {
        delta /= BASE - T_MIN;
        k += BASE;
    }
    k + (BASE - T_MIN + 1) * delta / (delta + SKEW)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_3492_and_well_known_labels() {
        for (label, encoded) in [
            ("bücher", "bcher-kva"),
            ("münchen", "mnchen-3ya"),
            ("bücher-öl", "bcher-l-f1a2c"),
            ("ü", "tda"),
            ("例え", "r8jz45g"),
            ("пример", "e1afmkfd"),
            // RFC 3492 section 7.1 (A): Arabic (Egyptian).
            (
                "\u{644}\u{64A}\u{647}\u{645}\u{627}\u{628}\u{62A}\u{643}\u{644}\u{645}\u{648}\u{634}\u{639}\u{631}\u{628}\u{64A}\u{61F}",
                "egbpdaj6bu4bxfgehfvwxn",
            ),
            // (L): 3<nen>B<gumi><kinpachi><sensei>
            (
                "3\u{5E74}B\u{7D44}\u{91D1}\u{516B}\u{5148}\u{751F}",
                "3B-ww4c5e180e575a65lsy2b",
            ),
        ] {
            assert_eq!(encode(label).as_deref(), Some(encoded), "{label}");
        }
    }
}
