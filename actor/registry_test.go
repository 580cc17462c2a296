package actor

import (
	"math/rand/v2"
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
// quarter, and the heap returns near where it was: a tenth of what the
// burst took, or what a registry of under shrinkMin members holds (it
// stops shrinking there, so that churn below it pays no rebuilds).
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
	if limit := max(grew/10, int64(17*tableCap(shrinkMin/2))+4096); kept > limit {
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

// The registry against a map, through random claims, adds and removes
// (churn that leaves tombstones, growth, rebuilds under way), with real
// hashes and with hashes forced into long clashes: every name finds its
// member or nothing as the map says, and the slots' accounting holds.
func TestRegistryMatchesAMap(t *testing.T) {
	hashes := map[string]func(string) uint64{
		"maphash": nil,
		"clashing": func(s string) uint64 { // 61 hash values for all
			i, _ := strconv.Atoi(s[2:])
			return uint64(i%61) * 0x9E3779B97F4A7C15
		},
	}
	for mode, fn := range hashes {
		t.Run(mode, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			r := newRegistry()
			r.hashFn = fn
			const names = 3000
			cells := make([]*cell[int], names)
			for i := range cells {
				cells[i] = &cell[int]{name: "a-" + strconv.Itoa(i)}
			}
			model := map[string]member{}
			moving := 0 // checks that found a rebuild under way
			check := func(step int) {
				t.Helper()
				for _, c := range cells {
					m, ok := r.get(c.name)
					if want, in := model[c.name]; ok != in || m != want {
						t.Fatalf("step %d: get(%q) = %v, %v; want %v, %v", step, c.name, m, ok, want, in)
					}
				}
				full, deleted, empty, oldFull := 0, 0, 0, 0
				if o := r.old; o != nil {
					for _, k := range o.ctrl {
						if k >= ctrlFull {
							oldFull++
						}
					}
					if oldFull != o.n || oldFull == 0 {
						t.Fatalf("step %d: the old arrays hold %d members, say %d", step, oldFull, o.n)
					}
					moving++
				}
				for _, k := range r.ctrl {
					switch {
					case k >= ctrlFull:
						full++
					case k == ctrlDeleted:
						deleted++
					default:
						empty++
					}
				}
				c := len(r.ctrl)
				if full+oldFull != len(model) || r.n != full || r.len() != len(model) ||
					c > 0 && (empty == 0 || r.free != c-c/8-full-deleted) {
					t.Fatalf("step %d: %d full (+%d old), %d deleted, %d empty of %d, n %d, free %d; want %d members",
						step, full, oldFull, deleted, empty, c, r.n, r.free, len(model))
				}
				seen := 0
				r.each(func(m member) {
					if model[m.regName()] != m {
						t.Fatalf("step %d: each saw %q, not registered", step, m.regName())
					}
					seen++
				})
				if seen != len(model) {
					t.Fatalf("step %d: each saw %d members, want %d", step, seen, len(model))
				}
			}
			for step := range 60_000 {
				c := cells[rng.IntN(names)]
				add := rng.IntN(100) < [3]int{80, 50, 20}[step/20_000]
				switch {
				case add && model[c.name] == nil && rng.IntN(2) == 0:
					r.add(c.name, c)
					model[c.name] = c
				case add:
					holder := r.claim(c.name, c)
					if want := model[c.name]; holder != want {
						t.Fatalf("step %d: claim(%q) = %v, want %v", step, c.name, holder, want)
					}
					if holder == nil {
						model[c.name] = c
					}
				default:
					r.remove(c.name, c)
					delete(model, c.name)
				}
				if step%97 == 0 {
					check(step)
				}
			}
			check(-1)
			if moving == 0 {
				t.Error("no check saw a rebuild under way: the old arrays' lookups went untested")
			}
		})
	}
}
