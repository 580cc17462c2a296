package actor

import (
	"runtime"
	"slices"
	"strconv"
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

// heapAfterGC is the heap in use after a collection.
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// A System's registry kept the map of its peak forever: after 100,000
// named actors came and went, it held a map sized for 100,000 (about 3 MB)
// to find none. It now shrinks once a large peak has fallen under a
// quarter, and the heap returns near where it was (generously: a tenth of
// what the burst took).
func TestRegressionRegistryShrinksAfterABurst(t *testing.T) {
	const n = 100_000
	cells := make([]*cell[int], n) // allocated before the baseline: not the registry's
	for i := range cells {
		cells[i] = &cell[int]{name: "a-" + strconv.Itoa(i)}
	}
	r := new(registry)
	*r = newRegistry()
	before := heapAfterGC()
	for _, c := range cells {
		if m := r.claim(c.name, c); m != nil {
			t.Fatalf("claim(%q) = %v", c.name, m)
		}
	}
	peak := heapAfterGC()
	for _, c := range cells[10:] {
		r.remove(c.name, c)
	}
	after := heapAfterGC()
	for i, c := range cells {
		m, ok := r.get(c.name)
		if ok != (i < 10) || ok && m != member(c) {
			t.Fatalf("get(%q) = %v, %v after the shrink", c.name, m, ok)
		}
	}
	runtime.KeepAlive(cells)
	runtime.KeepAlive(r)
	grew := int64(peak) - int64(before)
	kept := int64(after) - int64(before)
	t.Logf("the registry took %d B at its peak, keeps %d B", grew, kept)
	if grew < 1<<20 {
		t.Fatalf("the burst took only %d B: the measurement measures nothing", grew)
	}
	if kept > grew/10 {
		t.Fatalf("after the burst the registry keeps %d B of the %d B it took", kept, grew)
	}
}

// Shrinking keeps every name findable, the clashing ones included, at
// every step of a burst's removal.
func TestRegistryShrinkKeepsNames(t *testing.T) {
	for _, forced := range []bool{false, true} {
		r := newRegistry()
		if forced {
			r.hashFn = func(s string) uint64 { // every eighth name clashes
				i, _ := strconv.Atoi(s[2:])
				return uint64(i - i%8/7)
			}
		}
		const n = 40_000
		cells := make([]*cell[int], n)
		for i := range cells {
			cells[i] = &cell[int]{name: "a-" + strconv.Itoa(i)}
			r.add(cells[i].name, cells[i])
		}
		present := make([]bool, n)
		for i := range present {
			present[i] = true
		}
		shrunk := 0
		for k := range n - 3 {
			i := (k * 7919) % n // every index once: 7919 is prime to n
			before := r.peak
			r.remove(cells[i].name, cells[i])
			present[i] = false
			if r.peak < before {
				shrunk++
				for j, c := range cells {
					if m, ok := r.get(c.name); ok != present[j] || ok && m != member(c) {
						t.Fatalf("forced=%v: after a shrink get(%q) = %v, %v", forced, c.name, m, ok)
					}
				}
			}
		}
		if shrunk == 0 || r.len() != 3 {
			t.Fatalf("forced=%v: shrank %d times, len %d", forced, shrunk, r.len())
		}
	}
}
