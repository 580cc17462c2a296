// Package health is the vocabulary of health checks: a Status with a State
// and a Reason, and the Checker interface a supervised child implements to be
// polled.
//
// It imports nothing of this module so that any package (a supervisor, an
// actor, an OS-process probe) can speak it. The supervisor package decides
// what a status means: Unhealthy results count toward a restart, Degraded is
// reported but never counted, Healthy resets the count.
package health
