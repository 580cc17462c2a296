package supervisor

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestLaneClockFollowsTheWallClock checks laneClock against time.Now: a
// reading lies between the wall clock's readings around it, and the base
// is read again once clockRefresh has passed, so that a step of the wall
// clock shows within that time.
func TestLaneClockFollowsTheWallClock(t *testing.T) {
	var l laneClock
	for range 1000 {
		before := time.Now().UnixNano()
		got := l.unixNano()
		after := time.Now().UnixNano()
		// A microsecond of slack: the monotonic and wall clocks may run at
		// rates a slew apart (at most 500 ppm) over the base's millisecond.
		if got < before-1000 || got > after+1000 {
			t.Fatalf("unixNano %d outside the wall clock's [%d, %d]", got, before, after)
		}
	}
	synctest.Test(t, func(t *testing.T) {
		var l laneClock
		first := l.unixNano()
		b := l.base.Load()
		time.Sleep(clockRefresh / 2)
		if got := l.unixNano(); l.base.Load() != b || got != first+int64(clockRefresh/2) {
			t.Errorf("half a refresh later: %d (base renewed: %v), want %d on the same base", got, l.base.Load() != b, first+int64(clockRefresh/2))
		}
		time.Sleep(clockRefresh)
		if got := l.unixNano(); l.base.Load() == b || got != time.Now().UnixNano() {
			t.Errorf("after a refresh's time: %d (base renewed: %v), want %d from a new base", got, l.base.Load() != b, time.Now().UnixNano())
		}
	})
}
