package supervisor

import (
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
// quarter, and the heap returns near where it was (generously: a tenth of
// what the burst took).
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
	if kept > grew/10 {
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
