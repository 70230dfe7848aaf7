//! speedscope JSON reader and writer for stackconv
