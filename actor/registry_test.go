package actor

import (
	"slices"
	"testing"
)

// Names whose hashes collide are kept apart: each is found under its own
// name, a duplicate is seen, and removing one leaves the others.
func TestRegistryClashingNames(t *testing.T) {
	for _, forced := range []bool{false, true} {
		r := newRegistry()
		if forced {
			r.hashFn = func(string) uint64 { return 7 } // every name clashes
		}
		cells := map[string]*cell[int]{"a": {name: "a"}, "b": {name: "b"}, "c": {name: "c"}}
		for _, n := range []string{"a", "b", "c"} {
			if _, taken := r.get(n); taken {
				t.Fatalf("forced=%v: %q taken before it was added", forced, n)
			}
			r.add(n, cells[n])
		}
		for n, c := range cells {
			if m, ok := r.get(n); !ok || m != member(c) {
				t.Fatalf("forced=%v: get(%q) = %v, %v", forced, n, m, ok)
			}
			// claim refuses a taken name, whichever way it is held.
			if m := r.claim(n, &cell[int]{name: n}); m != member(c) {
				t.Fatalf("forced=%v: claim(%q) = %v, want the holder", forced, n, m)
			}
		}
		d := &cell[int]{name: "d"}
		if m := r.claim("d", d); m != nil {
			t.Fatalf("forced=%v: claim(d) = %v, want nil", forced, m)
		}
		if m, ok := r.get("d"); !ok || m != member(d) {
			t.Fatalf("forced=%v: d not found after claim", forced)
		}
		r.remove("d", d)
		if _, ok := r.get("d"); ok {
			t.Fatalf("forced=%v: found an unregistered name", forced)
		}
		r.remove("b", &cell[int]{name: "b"}) // not the holder: nothing happens
		r.remove("a", cells["a"])
		if _, ok := r.get("a"); ok || r.len() != 2 {
			t.Fatalf("forced=%v: a still found, or len %d after its removal", forced, r.len())
		}
		if m, ok := r.get("b"); !ok || m != member(cells["b"]) {
			t.Fatalf("forced=%v: b lost when a went", forced)
		}
		var names []string
		r.each(func(m member) { names = append(names, m.regName()) })
		slices.Sort(names)
		if !slices.Equal(names, []string{"b", "c"}) {
			t.Fatalf("forced=%v: each gave %v", forced, names)
		}
	}
}
