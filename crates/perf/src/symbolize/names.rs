//! Demangling and tidying, as `perf script` 6.1 prints names and
//! inferno-collapse-perf tidies them.
//!
//! perf demangles with libiberty's `cplus_demangle(name, 0)` unless run with
//! `-v`: no parameter list, no return type (tools/perf/util/symbol-elf.c
//! `demangle_sym`, `demangle_flags` only gets `DMGL_PARAMS` when verbose).
//! A legacy Rust name is demangled as C++ and then loses its `::h<hash>`
//! (`rust_demangle_sym`); Rust v0 (`_R`) names come out as libiberty prints
//! them, which is rustc-demangle's alternate form (no crate disambiguators).

use std::borrow::Cow;

use stackconv_model::naming::tidy_perf_symbol;

/// Longest symbol name we try to demangle; longer names are kept as they
/// are (demanglers recurse over the input).
const MAX_DEMANGLE_LEN: usize = 16 * 1024;

/// Demangle a symbol name as perf prints it; names that are not mangled (or
/// fail to demangle) come back unchanged.
pub(crate) fn demangle(name: &str) -> Cow<'_, str> {
    if name.len() > MAX_DEMANGLE_LEN {
        return Cow::Borrowed(name);
    }
    if name.starts_with("_R") || is_rust_legacy(name) {
        if let Ok(d) = rustc_demangle::try_demangle(name) {
            return Cow::Owned(format!("{d:#}"));
        }
    }
    if name.starts_with("_Z") {
        if let Some(d) = demangle_cpp(name) {
            return Cow::Owned(d);
        }
    }
    Cow::Borrowed(name)
}

/// Demangle, then tidy as inferno-collapse-perf does.
pub(crate) fn display_name(raw: &str) -> String {
    let demangled = demangle(raw);
    tidy_perf_symbol(&demangled).into_owned()
}

/// A legacy Rust symbol: `_ZN ... 17h<16 hex>E`, possibly followed by a
/// `.llvm.NNN`-style suffix (perf's `rust_is_mangled` checks the hash).
/// The path itself may hold dots (`_$LT$impl$u20$a..b..C$GT$`, an impl
/// block's path), so the hash may end at any dot, or at the end.
fn is_rust_legacy(name: &str) -> bool {
    let Some(body) = name.strip_prefix("_ZN") else {
        return false;
    };
    let bytes = body.as_bytes();
    let dots = bytes
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'.')
        .map(|(i, _)| i);
    std::iter::once(bytes.len())
        .chain(dots)
        .any(|end| bytes.get(..end).is_some_and(ends_with_rust_hash))
}

/// Whether `b` ends with a legacy Rust hash element, `17h<16 hex>E`.
fn ends_with_rust_hash(b: &[u8]) -> bool {
    let Some(b) = b.strip_suffix(b"E") else {
        return false;
    };
    let Some(split) = b.len().checked_sub(19) else {
        return false;
    };
    b.get(split..).is_some_and(|tail| {
        tail.starts_with(b"17h")
            && tail
                .get(3..)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    })
}

fn demangle_cpp(name: &str) -> Option<String> {
    // cpp_demangle has limits on recursion; a panic on a crafted name must
    // still not take the reader down.
    std::panic::catch_unwind(|| {
        let sym = cpp_demangle::Symbol::new(name.as_bytes()).ok()?;
        let opts = cpp_demangle::DemangleOptions::new()
            .no_params()
            .no_return_type();
        sym.demangle_with_options(&opts).ok()
    })
    .ok()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demangles_as_perf_prints() {
        // Names from `perf script` 6.1 on binaries built on the recording
        // machine (rustc -C symbol-mangling-version=v0, legacy, g++ -O1).
        assert_eq!(
            demangle("_RNvMNtCs6GmmlP4bgsG_1r1mINtB2_1SmE4workB4_"),
            "<r::m::S<u32>>::work"
        );
        assert_eq!(
            demangle("_ZN1r1m10S$LT$T$GT$4work17h862762eb1ce6b4eaE"),
            "r::m::S<T>::work"
        );
        assert_eq!(demangle("_ZN2ns1A4workIlEElT_"), "ns::A::work<long>");
        // A method of an impl block: its path holds dots (`..`), with and
        // without an LTO suffix (perf script printed stackconv's own
        // `frames::<impl stackconv_perf::reader::Reader>::intern_entries`).
        let imp = "_ZN14stackconv_perf6reader6frames48_$LT$impl$u20$stackconv_perf..reader..Reader$GT$14intern_entries17h0123456789abcdefE";
        let want =
            "stackconv_perf::reader::frames::<impl stackconv_perf::reader::Reader>::intern_entries";
        assert_eq!(demangle(imp), want);
        assert_eq!(demangle(&format!("{imp}.llvm.12345")), want);
        assert_eq!(demangle("main"), "main");
        assert_eq!(demangle("_Zgarbage"), "_Zgarbage");
    }

    #[test]
    fn tidies_after_demangling() {
        assert_eq!(
            display_name("msort_with_tmp.part.0"),
            "msort_with_tmp.part.0"
        );
        assert_eq!(display_name("_ZN2ns1A4workIlEElT_"), "ns::A::work<long>");
    }
}
