package supervisor

import "time"

// intensity is OTP's restart window: the times of the restarts that fall
// within the last period, oldest first. It never holds more than max+1
// entries (and only as many as fall in one period), so a long-lived
// supervisor's bookkeeping does not grow.
type intensity struct {
	max    int
	period time.Duration
	times  []time.Time
}

// add records a restart at now and reports whether it is allowed: false
// when it makes more than max restarts within period.
func (in *intensity) add(now time.Time) bool {
	in.trim(now)
	in.times = append(in.times, now)
	return len(in.times) <= in.max
}

// trim forgets restarts that are a full period old or older.
func (in *intensity) trim(now time.Time) {
	keep := 0
	for keep < len(in.times) && now.Sub(in.times[keep]) >= in.period {
		keep++
	}
	// Reslicing drops expired entries in O(1); append later moves the
	// live ones to a fresh array, so the backing store stays bounded.
	in.times = in.times[keep:]
}

// used is how many restarts fall within the current window.
func (in *intensity) used(now time.Time) int {
	in.trim(now)
	return len(in.times)
}
