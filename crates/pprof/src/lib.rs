//! pprof profile.proto reader and writer for stackconv
