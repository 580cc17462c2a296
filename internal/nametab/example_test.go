package nametab_test

import (
	"fmt"

	"github.com/airssys/rt/internal/nametab"
)

// worker is an entry that carries its own name, as a supervisor's child
// does: the table stores the pointer only.
type worker struct{ name string }

// A table of entries that know their names: Claim takes a free name or
// reports who holds it, and Remove frees a name only for its holder.
func Example() {
	tab := nametab.New(func(w *worker) string { return w.name })
	a := &worker{name: "db"}
	if _, held := tab.Claim(a.name, a); !held {
		fmt.Println("db is a's")
	}
	b := &worker{name: "db"}
	if holder, held := tab.Claim(b.name, b); held {
		fmt.Println("db is held:", holder == a)
	}
	tab.Remove(b.name, b) // b does not hold it: nothing happens
	_, ok := tab.Get("db")
	fmt.Println(ok, tab.Len())
	tab.Remove(a.name, a)
	_, ok = tab.Get("db")
	fmt.Println(ok, tab.Len())
	// Output:
	// db is a's
	// db is held: true
	// true 1
	// false 0
}
