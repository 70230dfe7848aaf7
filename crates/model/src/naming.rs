//! Frame naming rules shared by the readers of perf data (`perf script`
//! text and perf.data), so that both name frames as inferno-collapse-perf does.
