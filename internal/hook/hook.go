// Package hook names the agreement between the supervisor and actor
// packages that no user should call into.
//
// An actor's incarnation takes its stop request on the goroutine that
// cancels its context (the supervisor's), without a function made for it:
// the supervisor's incarnation context has OnCancelStopChild and
// StopOnCancelInline, and the actor's incarnation has StopInline, which
// that cancel calls. They are methods of unexported types found through
// interface checks, so they must be exported; each takes a Token, which
// only packages of this module can name, so that code outside it cannot
// write an interface that reaches them (say, through
// supervisor.ChildInfo.Instance, or the ctx a child is given).
package hook

// Token is the parameter that keeps a method of the supervisor↔actor
// agreement out of reach of code outside this module. It is empty and
// costs nothing to pass.
type Token struct{}
