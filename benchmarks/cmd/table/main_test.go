package main

import "testing"

// The worst-round bar pairs the i-th result of each library, which came
// from the same round: a summary (a median) taken before it must not
// reorder them. benchmath sorts the values it is given, and once did so
// in place, pairing the slowest airssys round with the slowest raw one.
func TestRegressionWorstFanInRoundPairsRounds(t *testing.T) {
	var r results
	for _, v := range []float64{21.6, 21.2, 21.4, 21.2, 18.3} {
		r.add("FanIn", baseline, "Mmsg/s", v)
	}
	for _, v := range []float64{19.2, 17.7, 15.4, 19.4, 16.9} {
		r.add("FanIn", ours, "Mmsg/s", v)
	}
	r.summary("FanIn", ours, "Mmsg/s")
	r.summary("FanIn", baseline, "Mmsg/s")
	have, limit, _, met, ok := worstFanInRound(&r, ours)
	if !ok || met || have != 15.4 || limit != 0.8*21.4 {
		t.Fatalf("worst round %v against limit %v (met %v): want 15.4 against %v, missed", have, limit, met, 0.8*21.4)
	}
}
