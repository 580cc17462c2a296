// This file is the same in every example, as helpers.go is.

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestHelpersAreShared keeps helpers.go, and this file, the same in every
// example that has them: one small helper to learn, not several that
// drift apart.
func TestHelpersAreShared(t *testing.T) {
	for _, name := range []string{"helpers.go", "helpers_test.go"} {
		mine, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		others, err := filepath.Glob(filepath.Join("..", "*", name))
		if err != nil {
			t.Fatal(err)
		}
		if len(others) < 2 {
			t.Fatalf("found %d examples with %s; run the test in its example's directory", len(others), name)
		}
		for _, other := range others {
			theirs, err := os.ReadFile(other)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(mine, theirs) {
				t.Errorf("%s differs from %s: change every copy alike", name, other)
			}
		}
	}
}
