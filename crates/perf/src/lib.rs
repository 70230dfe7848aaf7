//! perf.data, perf map and jitdump reader with DWARF unwinding and symbolization for stackconv

pub mod symbolize;
