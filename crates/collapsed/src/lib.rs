//! Folded stacks, perf script text and py-spy raw output for stackconv
