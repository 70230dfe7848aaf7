//! Where a borrowed part of a byte slice lies in it.

use std::ops::Range;

/// Where `part` lies in `whole`, when it is a part of it (borrowed from
/// it, not a copy): a decoded record's bytes in the input, a field in its
/// line.
pub(crate) fn range_in(whole: &[u8], part: &[u8]) -> Option<Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= whole.len()).then_some(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_part_borrowed_from_inside_is_found() {
        let whole = vec![7u8; 64];
        assert_eq!(range_in(&whole, &whole[8..24]), Some(8..24));
        assert_eq!(range_in(&whole, &whole[64..]), Some(64..64));
        let copy = whole.clone();
        assert_eq!(range_in(&whole, &copy[8..24]), None);
        // Part of the slice, then past its end: not inside.
        assert_eq!(range_in(&whole[..32], &whole[16..40]), None);
    }
}
