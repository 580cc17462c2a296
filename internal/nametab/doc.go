// Package nametab is the open-addressing name table that the supervisor
// package's family (its children by name) and the actor package's System
// (its registered actors) both keep: one algorithm, tested once here,
// rather than two copies of it that a fix to one would miss in the other.
//
// A Table[T] maps a name to one entry of type T (a *child, an actor's
// member interface) without storing the name: the entry knows its own
// name, read through the function given to New. A slot is the entry and a
// control byte holding 7 bits of the name's hash, so that a probe reads
// the control bytes and compares a name only when those bits match. At
// 100,000 entries a Table takes about 9 bytes per entry plus the slot's
// size (12 for a pointer, 22 for an interface), where a Go map keyed by
// the name's hash took 23 and 35.
//
// Probing is linear from the hash's slot and ends at an empty slot. At
// least one slot in eight stays empty; removed entries' slots (tombstones)
// count as taken until a rebuild drops them. A rebuild starts when an
// insertion would take the last free slot (into arrays twice the size, or
// the same size when tombstones were the cause) and when a large table has
// emptied (under a quarter of a peak of at least ShrinkMin). It is
// incremental: each insertion and removal moves the next 16 entries out of
// the old arrays, which lookups search as well until they are empty, so
// that no single operation pays for moving half a million entries (150 ms
// under the caller's lock when it was done at once).
//
// A Table is not safe for concurrent use: its owner guards it (the
// family's mutex, the System's lock).
package nametab
