module dropframes

go 1.19

require github.com/google/pprof v0.0.0

// record.sh points this at a copy of the pprof "profile" package that
// ships inside the Go toolchain (cmd/vendor), so no network is needed.
replace github.com/google/pprof => ../pprof
