package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	// The deadline only ends a run that is stuck; a healthy one takes
	// about askLimit, the wait for the answer that never comes.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var buf bytes.Buffer
	if err := run(ctx, &buf); err != nil {
		t.Fatalf("run: %v\n%s", err, buf.String())
	}
	out := buf.String()
	for _, want := range []string{
		// Request/reply, with refusals as errors from Ask.
		`  deposit 100 to alice       ok, journal entry 1
  deposit 50 to bob          ok, journal entry 2
  deposit 20 to carol        ok, journal entry 3
  transfer 30 alice→bob      ok, journal entry 4
  transfer 25 bob→carol      ok, journal entry 5
  transfer 500 carol→alice   refused: insufficient funds: carol has 45
  transfer 0 alice→bob       refused: amount must be positive
  balances: alice=70 bob=55 carol=45
`,
		// The ledger fails: the client is told, both restart (OneForAll),
		// and the transfer accounts had applied is gone from its balances.
		`  transfer 10 alice→carol    failed: journal: write entry 6: disk unavailable
  bank            ledger failed: journal: write entry 6: disk unavailable
  bank            stopped accounts
  bank            restarted ledger, accounts
  dead letter to ledger: post of transfer 10 alice→carol (journal: write entry 6: disk unavailable)
  accounts had applied that transfer; rebuilt from the journal, it has not:
  balances: alice=70 bob=55 carol=45
`,
		// accounts fails: Ask fails at once with the crash, both restart,
		// the half-done transfer is gone, and the retry goes through.
		`  transfer 5 bob→alice       failed: actor "accounts": ask: request lost: actor ended without replying: panic: bug between the debit and the credit
  bank            accounts failed: panic: bug between the debit and the credit
  bank            stopped ledger
  bank            restarted ledger, accounts
  dead letter to accounts: transfer 5 bob→alice (panic: bug between the debit and the credit)
  Ask failed at once with the crash, so the client looks: did the money move?
  balances: alice=70 bob=55 carol=45
  It did not: the half-done transfer died with the incarnation. The client retries.
  transfer 5 bob→alice       ok, journal entry 6
`,
		`  accounts:                  alice=75 bob=50 carol=45
  the journal (6 entries):   alice=75 bob=50 carol=45
  deposited 170, held 170
Consistent after both faults.
`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks\n%s", want)
		}
	}
	if strings.Contains(out, "child_") || strings.Contains(out, "err=") {
		t.Error("the output has raw events, not plain words")
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}
