package nametab

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// ent is a test entry: a name and nothing else, compared by pointer as
// the supervisor's children are.
type ent struct{ name string }

func entName(e *ent) string { return e.name }

// named is an interface entry, as the actor package's members are; two
// implementations with the same name are different entries.
type named interface{ tabName() string }

type entA struct{ name string }
type entB struct{ name string }

func (e *entA) tabName() string { return e.name }
func (e *entB) tabName() string { return e.name }

// Names whose hashes collide are kept apart: each is found under its own
// name, a duplicate is seen, and removing one leaves the others; with
// pointer entries and with interface entries.
func TestClashingNames(t *testing.T) {
	for _, forced := range []bool{false, true} {
		tab := New(named.tabName)
		if forced {
			tab.SetHash(func(string) uint64 { return 7 }) // every name clashes
		}
		ents := map[string]named{"a": &entA{"a"}, "b": &entB{"b"}, "c": &entA{"c"}}
		for _, n := range []string{"a", "b", "c"} {
			if _, taken := tab.Get(n); taken {
				t.Fatalf("forced=%v: %q taken before it was added", forced, n)
			}
			tab.Add(n, ents[n])
		}
		for n, e := range ents {
			if got, ok := tab.Get(n); !ok || got != e {
				t.Fatalf("forced=%v: Get(%q) = %v, %v", forced, n, got, ok)
			}
			// Claim refuses a taken name, whoever holds it.
			if got, held := tab.Claim(n, &entB{n}); !held || got != e {
				t.Fatalf("forced=%v: Claim(%q) = %v, %v, want the holder", forced, n, got, held)
			}
		}
		d := named(&entB{"d"})
		if got, held := tab.Claim("d", d); held || got != nil {
			t.Fatalf("forced=%v: Claim(d) = %v, %v, want nil, false", forced, got, held)
		}
		if got, ok := tab.Get("d"); !ok || got != d {
			t.Fatalf("forced=%v: d not found after Claim", forced)
		}
		tab.Remove("d", d)
		if _, ok := tab.Get("d"); ok {
			t.Fatalf("forced=%v: found a removed name", forced)
		}
		tab.Remove("b", &entB{"b"}) // not the holder (same type, same name): nothing happens
		tab.Remove("c", &entB{"c"}) // not the holder (another type): nothing happens
		tab.Remove("a", ents["a"])
		if _, ok := tab.Get("a"); ok || tab.Len() != 2 {
			t.Fatalf("forced=%v: a still found, or Len %d after its removal", forced, tab.Len())
		}
		if got, ok := tab.Get("b"); !ok || got != ents["b"] {
			t.Fatalf("forced=%v: b lost when a went", forced)
		}
		var names []string
		tab.Each(func(e named) { names = append(names, e.tabName()) })
		slices.Sort(names)
		if !slices.Equal(names, []string{"b", "c"}) {
			t.Fatalf("forced=%v: Each gave %v", forced, names)
		}
		if forced && tab.Displaced() == 0 {
			t.Fatalf("forced clashes all found their own slots")
		}
	}
}

// Shrinking keeps every name findable, the clashing ones included, at
// every step of a burst's removal, in any order of removal.
func TestShrinkKeepsNames(t *testing.T) {
	for _, forced := range []bool{false, true} {
		tab := New(entName)
		if forced {
			tab.SetHash(func(s string) uint64 { // every eighth name clashes
				i, _ := strconv.Atoi(s[2:])
				return uint64(i - i%8/7)
			})
		}
		const n = 40_000
		ents := make([]*ent, n)
		for i := range ents {
			ents[i] = &ent{"e-" + strconv.Itoa(i)}
			if old, held := tab.Claim(ents[i].name, ents[i]); held {
				t.Fatalf("Claim(%q) = %q", ents[i].name, old.name)
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
			tab.Remove(ents[i].name, ents[i])
			present[i] = false
			if tab.peak < before {
				shrunk++
				for j, e := range ents {
					if got, ok := tab.Get(e.name); ok != present[j] || ok && got != e {
						t.Fatalf("forced=%v: after a shrink Get(%q) = %v, %v, present %v", forced, e.name, got, ok, present[j])
					}
				}
			}
		}
		if shrunk == 0 {
			t.Fatalf("forced=%v: the table never shrank", forced)
		}
		count := 0
		tab.Each(func(*ent) { count++ })
		if count != 3 || tab.Len() != 3 {
			t.Fatalf("forced=%v: Each saw %d entries, Len %d, want 3", forced, count, tab.Len())
		}
	}
}

// The table against a map, through random claims, adds and removes
// (churn that leaves tombstones, growth, rebuilds in place, shrinks), with
// real hashes and with hashes forced into long clashes: every name finds
// its entry or nothing as the map says, and the slots' accounting holds.
func TestMatchesAMap(t *testing.T) {
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
			tab := New(entName)
			tab.SetHash(fn)
			const names = 3000
			ents := make([]*ent, names)
			for i := range ents {
				ents[i] = &ent{"e-" + strconv.Itoa(i)}
			}
			model := map[string]*ent{}
			moving := 0 // checks that found a rebuild under way
			check := func(step int) {
				t.Helper()
				for _, e := range ents {
					got, ok := tab.Get(e.name)
					if want, in := model[e.name]; ok != in || got != want {
						t.Fatalf("step %d: Get(%q) = %p, %v; want %p, %v", step, e.name, got, ok, want, in)
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
						t.Fatalf("step %d: the old arrays hold %d entries, say %d", step, oldFull, o.n)
					}
					moving++
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
				if full+oldFull != len(model) || tab.n != full || tab.Len() != len(model) ||
					c > 0 && (empty == 0 || tab.free != c-c/8-full-deleted) {
					t.Fatalf("step %d: %d full (+%d old), %d deleted, %d empty of %d, n %d, free %d; want %d entries",
						step, full, oldFull, deleted, empty, c, tab.n, tab.free, len(model))
				}
				seen := 0
				tab.Each(func(e *ent) {
					if model[e.name] != e {
						t.Fatalf("step %d: Each saw %q, not in the table", step, e.name)
					}
					seen++
				})
				if seen != len(model) {
					t.Fatalf("step %d: Each saw %d entries, want %d", step, seen, len(model))
				}
			}
			for step := range 60_000 {
				e := ents[rng.IntN(names)]
				// Phases: grow towards all names, churn, drain.
				add := rng.IntN(100) < [3]int{80, 50, 20}[step/20_000]
				switch {
				case add && model[e.name] == nil && rng.IntN(2) == 0:
					tab.Add(e.name, e)
					model[e.name] = e
				case add:
					holder, held := tab.Claim(e.name, e)
					if want := model[e.name]; held != (want != nil) || held && holder != want {
						t.Fatalf("step %d: Claim(%q) = %p, %v, want %p", step, e.name, holder, held, want)
					}
					if !held {
						model[e.name] = e
					}
				default:
					tab.Remove(e.name, e)
					delete(model, e.name)
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

// BenchmarkShrink is the removal that shrinks a table whose peak was
// 100,000 (it copies 24,999 entries), against a removal that does not:
// the pause that one removal in 75,000 pays.
func BenchmarkShrink(b *testing.B) {
	const n = 100_000
	ents := make([]*ent, n)
	for i := range ents {
		ents[i] = &ent{"e-" + strconv.Itoa(i)}
	}
	for _, shrinking := range []bool{false, true} {
		name := "plain-remove"
		if shrinking {
			name = "shrinking-remove"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				tab := New(entName)
				for _, e := range ents {
					tab.Add(e.name, e)
				}
				if shrinking {
					for _, e := range ents[n/4:] {
						tab.Remove(e.name, e) // down to a quarter: the next removal shrinks
					}
				}
				b.StartTimer()
				tab.Remove(ents[0].name, ents[0])
				if shrinking != (tab.peak < n) {
					b.Fatalf("shrinking %v, peak %d", shrinking, tab.peak)
				}
			}
		})
	}
}
