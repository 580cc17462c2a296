package supervisor

import (
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
)

// heapLive is the heap in use after a collection.
func heapLive() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// A name table kept the map of its peak forever: after 100,000 dynamic
// children came and went, a supervisor held a map sized for 100,000 (about
// 3 MB) to find none. It now shrinks once a large peak has fallen under a
// quarter, and the heap returns near where it was: a tenth of what the
// burst took, or what a table of under shrinkMin children holds (it stops
// shrinking there, so that churn below it pays no rebuilds).
func TestRegressionNameTableShrinksAfterABurst(t *testing.T) {
	const n = 100_000
	kids := make([]*child, n) // allocated before the baseline: not the table's
	for i := range kids {
		kids[i] = &child{spec: childSpec{Name: "c-" + strconv.Itoa(i)}}
	}
	tab := new(nameTable)
	*tab = newNameTable()
	before := heapLive()
	for _, c := range kids {
		tab.add(c)
	}
	peak := heapLive()
	for _, c := range kids[10:] {
		tab.remove(c)
	}
	after := heapLive()
	for i, c := range kids {
		got := tab.get(c.spec.Name)
		if i < 10 && got != c || i >= 10 && got != nil {
			t.Fatalf("get(%q) = %p after the shrink, want %p", c.spec.Name, got, map[bool]*child{true: c}[i < 10])
		}
	}
	runtime.KeepAlive(kids)
	runtime.KeepAlive(tab)
	grew := int64(peak) - int64(before)
	kept := int64(after) - int64(before)
	t.Logf("the table took %d B at its peak, keeps %d B", grew, kept)
	if grew < 1<<20 {
		t.Fatalf("the burst took only %d B: the measurement measures nothing", grew)
	}
	if limit := max(grew/10, int64(9*tableCap(shrinkMin/2))+4096); kept > limit {
		t.Fatalf("after the burst the table keeps %d B of the %d B it took", kept, grew)
	}
}

// Shrinking keeps every name findable, the clashing ones included, at
// every step of a burst's removal, in any order of removal.
func TestNameTableShrinkKeepsNames(t *testing.T) {
	for _, forced := range []bool{false, true} {
		tab := newNameTable()
		if forced {
			// Every eighth name clashes with another.
			tab.hashFn = func(s string) uint64 {
				i, _ := strconv.Atoi(s[2:])
				return uint64(i - i%8/7)
			}
		}
		const n = 40_000
		kids := make([]*child, n)
		for i := range kids {
			kids[i] = &child{spec: childSpec{Name: "c-" + strconv.Itoa(i)}}
			if old := tab.reserve(kids[i]); old != nil {
				t.Fatalf("reserve(%q) = %q", kids[i].spec.Name, old.spec.Name)
			}
		}
		present := make([]bool, n)
		for i := range present {
			present[i] = true
		}
		shrunk := 0
		for k := range n - 3 {
			i := (k * 7919) % n // every index once: 7919 is prime to n
			before := tab.peak
			tab.remove(kids[i])
			present[i] = false
			if tab.peak < before {
				shrunk++
				for j, c := range kids {
					if got := tab.get(c.spec.Name); (got == c) != present[j] || !present[j] && got != nil {
						t.Fatalf("forced=%v: after a shrink get(%q) = %v, present %v", forced, c.spec.Name, got, present[j])
					}
				}
			}
		}
		if shrunk == 0 {
			t.Fatalf("forced=%v: the table never shrank", forced)
		}
		count := 0
		tab.each(func(*child) { count++ })
		if count != 3 {
			t.Fatalf("forced=%v: each saw %d children, want 3", forced, count)
		}
	}
}

// BenchmarkNameTableShrink is the removal that shrinks a table whose
// peak was 100,000 (it copies 24,999 entries), against a removal that
// does not: the pause that one removal in 75,000 pays.
func BenchmarkNameTableShrink(b *testing.B) {
	const n = 100_000
	kids := make([]*child, n)
	for i := range kids {
		kids[i] = &child{spec: childSpec{Name: "c-" + strconv.Itoa(i)}}
	}
	for _, shrinking := range []bool{false, true} {
		name := "plain-remove"
		if shrinking {
			name = "shrinking-remove"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				tab := newNameTable()
				for _, c := range kids {
					tab.add(c)
				}
				if shrinking {
					for _, c := range kids[n/4:] {
						tab.remove(c) // down to a quarter: the next removal shrinks
					}
				}
				b.StartTimer()
				tab.remove(kids[0])
				if shrinking != (tab.peak < n) {
					b.Fatalf("shrinking %v, peak %d", shrinking, tab.peak)
				}
			}
		})
	}
}

// displaced counts the children not in the slot their hash points at:
// those a probe found past a clash.
func (t *nameTable) displaced() int {
	n, mask := 0, len(t.ctrl)-1
	for i, k := range t.ctrl {
		if k >= ctrlFull && int(t.hash(t.slots[i].spec.Name))&mask != i {
			n++
		}
	}
	return n
}

// The table against a map, through random reserves, adds and removes
// (churn that leaves tombstones, growth, rebuilds in place, shrinks), with
// real hashes and with hashes forced into long clashes: every name finds
// its child or nothing as the map says, and the slots' accounting holds.
func TestNameTableMatchesAMap(t *testing.T) {
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
			tab := newNameTable()
			tab.hashFn = fn
			const names = 3000
			kids := make([]*child, names)
			for i := range kids {
				kids[i] = &child{spec: childSpec{Name: "c-" + strconv.Itoa(i)}}
			}
			model := map[string]*child{}
			moving := 0 // checks that found a rebuild under way
			check := func(step int) {
				t.Helper()
				for _, c := range kids {
					if got := tab.get(c.spec.Name); got != model[c.spec.Name] {
						t.Fatalf("step %d: get(%q) = %p, want %p", step, c.spec.Name, got, model[c.spec.Name])
					}
				}
				full, deleted, empty, oldFull := 0, 0, 0, 0
				if o := tab.old; o != nil {
					for _, k := range o.ctrl {
						if k >= ctrlFull {
							oldFull++
						}
					}
					if oldFull != o.n || oldFull == 0 {
						t.Fatalf("step %d: the old arrays hold %d children, say %d", step, oldFull, o.n)
					}
				}
				for _, k := range tab.ctrl {
					switch {
					case k >= ctrlFull:
						full++
					case k == ctrlDeleted:
						deleted++
					default:
						empty++
					}
				}
				c := len(tab.ctrl)
				if full+oldFull != len(model) || tab.n != full || tab.len() != len(model) ||
					c > 0 && (empty == 0 || tab.free != c-c/8-full-deleted) {
					t.Fatalf("step %d: %d full (+%d old), %d deleted, %d empty of %d, n %d, free %d; want %d children",
						step, full, oldFull, deleted, empty, c, tab.n, tab.free, len(model))
				}
				if tab.old != nil {
					moving++
				}
				seen := 0
				tab.each(func(c *child) {
					if model[c.spec.Name] != c {
						t.Fatalf("step %d: each saw %q, not in the table", step, c.spec.Name)
					}
					seen++
				})
				if seen != len(model) {
					t.Fatalf("step %d: each saw %d children, want %d", step, seen, len(model))
				}
			}
			for step := range 60_000 {
				c := kids[rng.IntN(names)]
				// Phases: grow towards all names, churn, drain.
				add := rng.IntN(100) < [3]int{80, 50, 20}[step/20_000]
				switch {
				case add && model[c.spec.Name] == nil && rng.IntN(2) == 0:
					tab.add(c)
					model[c.spec.Name] = c
				case add:
					holder := tab.reserve(c)
					if want := model[c.spec.Name]; holder != want {
						t.Fatalf("step %d: reserve(%q) = %p, want %p", step, c.spec.Name, holder, want)
					}
					if holder == nil {
						model[c.spec.Name] = c
					}
				default:
					tab.remove(c)
					delete(model, c.spec.Name)
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
