// Command dropframes writes a small synthetic profile that carries
// drop_frames and keep_frames, using the same "profile" package that
// `go tool pprof` uses, for stackconv's drop/keep frames golden test
// (see ../record.sh).
//
// go tool pprof prunes it on load (profile.RemoveUninteresting ->
// Prune): from the root towards the leaf, after the first frame that is
// not dropped, the first dropped frame is removed with everything it
// called; keep_frames overrides drop_frames; in a location with inlined
// lines only the lines from the matching one inwards go.
package main

import (
	"os"

	"github.com/google/pprof/profile"
)

func main() {
	if len(os.Args) != 2 {
		os.Stderr.WriteString("usage: dropframes OUT.pb.gz\n")
		os.Exit(2)
	}
	mapping := &profile.Mapping{
		ID: 1, Start: 0x400000, Limit: 0x500000, File: "/opt/app/bin/server",
		BuildID: "0123456789abcdef", HasFunctions: true, HasFilenames: true,
		HasLineNumbers: true, HasInlineFrames: true,
	}
	var funcs []*profile.Function
	fn := func(name string) *profile.Function {
		f := &profile.Function{
			ID: uint64(len(funcs) + 1), Name: name, SystemName: name,
			Filename: "/src/app/server.c", StartLine: int64(10 * (len(funcs) + 1)),
		}
		funcs = append(funcs, f)
		return f
	}
	fMain := fn("main")
	fServe := fn("serve")
	fWork := fn("work")
	fMalloc := fn("runtime.mallocgc")
	fMemmove := fn("runtime.memmove")
	fKeep := fn("runtime.keepalive")
	fLeaf := fn("leaf")
	fDropRoot := fn("droproot")
	fGoexit := fn("runtime.goexit")
	fInner := fn("inner")
	fDropInl := fn("dropinline")
	fCaller := fn("caller")
	fDropOuter := fn("dropouter")
	fArgs := fn("pkg.Fn(int, string)")
	fAnon := fn("(anonymous namespace)::dropx(int)")
	fAnonKeep := fn("(anonymous namespace)::other(int)")
	fNoName := fn("")

	var locs []*profile.Location
	loc := func(lines ...*profile.Function) *profile.Location {
		l := &profile.Location{ID: uint64(len(locs) + 1), Mapping: mapping, Address: 0x401000 + uint64(16*len(locs))}
		for i, f := range lines {
			l.Line = append(l.Line, profile.Line{Function: f, Line: f.StartLine + int64(i) + 1})
		}
		locs = append(locs, l)
		return l
	}
	lMain := loc(fMain)
	lServe := loc(fServe)
	lWork := loc(fWork)
	lMalloc := loc(fMalloc)
	lMemmove := loc(fMemmove)
	lKeep := loc(fKeep)
	lLeaf := loc(fLeaf)
	lDropRoot := loc(fDropRoot)
	lGoexit := loc(fGoexit)
	// inner and dropinline are inlined into caller.
	lInlined := loc(fInner, fDropInl, fCaller)
	// leaf inlined into dropouter: the outermost line matches.
	lOuter := loc(fLeaf, fDropOuter)
	lArgs := loc(fArgs)
	lAnon := loc(fAnon)
	lAnonKeep := loc(fAnonKeep)
	lNoName := loc(fNoName)
	// No line at all: an unsymbolized address.
	lAddr := &profile.Location{ID: uint64(len(locs) + 1), Mapping: mapping, Address: 0x4abcde}
	locs = append(locs, lAddr)

	var samples []*profile.Sample
	add := func(n int64, thread string, stack ...*profile.Location) {
		samples = append(samples, &profile.Sample{
			Location: stack,
			Value:    []int64{n, n * 10000000},
			Label:    map[string][]string{"thread_name": {thread}},
			NumLabel: map[string][]int64{"tid": {100 + n}},
		})
	}
	// Stacks are leaf first, as in profile.proto.
	add(1, "a", lMalloc, lWork, lServe, lMain)                // runtime.mallocgc and below go
	add(2, "a", lMemmove, lMalloc, lWork, lServe, lMain)      // cut at mallocgc
	add(3, "b", lLeaf, lKeep, lWork, lServe, lMain)           // keep_frames wins
	add(4, "b", lWork, lDropRoot, lMain)                      // droproot and work go
	add(5, "a", lWork, lServe, lGoexit)                       // root matches: nothing goes
	add(6, "b", lLeaf, lInlined, lServe, lMain)               // inner+dropinline lines go
	add(7, "a", lOuter, lServe, lMain)                        // whole location goes
	add(8, "b", lLeaf, lArgs, lServe, lMain)                  // argument list ignored
	add(9, "a", lLeaf, lAnon, lServe, lMain)                  // reserved name kept
	add(10, "b", lLeaf, lAnonKeep, lServe, lMain)             // no match
	add(11, "a", lNoName, lWork, lServe, lMain)               // empty name never matches
	add(12, "b", lAddr, lServe, lMain)                        // no lines
	add(13, "a", lMalloc, lGoexit)                            // only dropped frames

	p := &profile.Profile{
		SampleType: []*profile.ValueType{
			{Type: "samples", Unit: "count"},
			{Type: "cpu", Unit: "nanoseconds"},
		},
		DefaultSampleType: "cpu",
		Sample:            samples,
		Mapping:           []*profile.Mapping{mapping},
		Location:          locs,
		Function:          funcs,
		DropFrames:        `runtime\..*|drop.*|pkg\.Fn|\(anonymous namespace\)::dropx`,
		KeepFrames:        `runtime\.keep.*`,
		TimeNanos:         1700000000000000000,
		DurationNanos:     1000000000,
		PeriodType:        &profile.ValueType{Type: "cpu", Unit: "nanoseconds"},
		Period:            10000000,
		Comments:          []string{"synthetic profile for drop_frames/keep_frames"},
	}
	if err := p.CheckValid(); err != nil {
		panic(err)
	}
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := p.Write(f); err != nil {
		panic(err)
	}
	if err := f.Close(); err != nil {
		panic(err)
	}
}
