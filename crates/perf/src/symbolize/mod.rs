//! Symbolization of sampled addresses: ELF symbols, DWARF lines and inlines, kallsyms,
//! perf maps and jitdump (filled in by the symbolizer).
