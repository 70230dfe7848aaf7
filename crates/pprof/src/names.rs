//! Function names as `go tool pprof` shows them.
//!
//! pprof's driver runs the symbolizer's `Demangle` on every profile it
//! loads (internal/symbolizer/symbolizer.go, `demangleSingleFunction`): a
//! function whose `name` is empty or equal to its `system_name` is renamed
//! from the system name, and a name that looks like demangled C++ loses its
//! parameter lists `(...)` and template arguments `<...>`. `drop_frames`
//! then matches names simplified by `simplifyFunc` (profile/prune.go).
//! Mangled `_Z` names would be demangled by pprof; this crate keeps them
//! as they are.

use std::borrow::Cow;

/// The name `go tool pprof` shows for a function with this `name` and
/// `system_name`.
pub(crate) fn display_name<'a>(name: &'a str, system_name: &'a str) -> Cow<'a, str> {
    if !name.is_empty() && system_name != name {
        return Cow::Borrowed(name);
    }
    if looks_like_demangled_cplusplus(system_name) {
        let s = remove_matching(system_name, b'(', b')');
        let s = remove_matching(&s, b'<', b'>');
        return Cow::Owned(s.into_owned());
    }
    Cow::Borrowed(system_name)
}

/// pprof's `looksLikeDemangledCPlusPlus`.
fn looks_like_demangled_cplusplus(s: &str) -> bool {
    if s.contains(".<") || s.contains("]).") {
        return false;
    }
    s.contains(['<', '>', '[', ']']) || s.contains("::")
}

/// pprof's `removeMatching`: remove nested `start`..`end` groups; on a
/// stray `end` stop and keep the rest as it is.
fn remove_matching(name: &str, start: u8, end: u8) -> Cow<'_, str> {
    let bytes = name.as_bytes();
    if !bytes.contains(&start) && !bytes.contains(&end) {
        return Cow::Borrowed(name);
    }
    // Both delimiters are ASCII, so every cut falls on a char boundary.
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut nesting: usize = 0;
    let mut group_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == start {
            if nesting == 0 {
                group_start = out.len();
            }
            nesting = nesting.saturating_add(1);
        } else if b == end {
            if nesting == 0 {
                out.extend_from_slice(bytes.get(i..).unwrap_or_default());
                break;
            }
            nesting -= 1;
            if nesting == 0 {
                out.truncate(group_start);
                continue;
            }
        }
        out.push(b);
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// pprof's `simplifyFunc`: drop a leading `.` and the argument list (from
/// the first `(` that does not start `(anonymous namespace)`, and is not
/// inside `operator()`).
pub(crate) fn simplify_func(name: &str) -> &str {
    const RESERVED: [&str; 2] = ["(anonymous namespace)", "operator()"];
    let name = name.strip_prefix('.').unwrap_or(name);
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = bytes.get(i..).unwrap_or_default();
        if let Some(r) = RESERVED.iter().find(|r| rest.starts_with(r.as_bytes())) {
            i = i.saturating_add(r.len());
            continue;
        }
        if rest.first() == Some(&b'(') {
            return name.get(..i).unwrap_or(name);
        }
        i = i.saturating_add(1);
    }
    name
}

/// The name pprof shows (at function granularity) for a location without
/// lines or a line without a function name: `[<base name of the mapping
/// file>]`, or `<unknown>` without one.
pub(crate) fn objfile_frame_name(objfile: &str) -> String {
    if objfile.is_empty() {
        return "<unknown>".to_string();
    }
    // Go's filepath.Base.
    let trimmed = objfile.trim_end_matches('/');
    let base = if trimmed.is_empty() {
        "/"
    } else {
        trimmed.rsplit('/').next().unwrap_or(trimmed)
    };
    format!("[{base}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names() {
        assert_eq!(display_name("main.fib", "main.fib"), "main.fib");
        assert_eq!(
            display_name(
                "(anonymous namespace)::dropx(int)",
                "(anonymous namespace)::dropx(int)"
            ),
            "::dropx"
        );
        assert_eq!(
            display_name("std::vector<int>::push_back(int const&)", ""),
            "std::vector<int>::push_back(int const&)"
        );
        assert_eq!(
            display_name("", "std::vector<int>::push_back(int const&)"),
            "std::vector::push_back"
        );
        assert_eq!(display_name("", "a::b)c"), "a::b)c");
        assert_eq!(display_name("Foo.<init>", "Foo.<init>"), "Foo.<init>");
        assert_eq!(
            display_name("main.(*T[...]).m", "main.(*T[...]).m"),
            "main.(*T[...]).m"
        );
    }

    #[test]
    fn simplify() {
        assert_eq!(simplify_func("pkg.Fn(int, string)"), "pkg.Fn");
        assert_eq!(simplify_func(".foo(x)"), "foo");
        assert_eq!(
            simplify_func("(anonymous namespace)::f(int)"),
            "(anonymous namespace)::f"
        );
        assert_eq!(simplify_func("A::operator()(int)"), "A::operator()");
        assert_eq!(simplify_func("main.(*T).m"), "main.");
    }

    #[test]
    fn objfile_names() {
        assert_eq!(objfile_frame_name("/usr/lib/libc.so.6"), "[libc.so.6]");
        assert_eq!(objfile_frame_name(""), "<unknown>");
        assert_eq!(objfile_frame_name("/"), "[/]");
    }
}
