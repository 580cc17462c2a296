// Package demo builds the supervision tree that "airssys demo" serves, and
// that the observer's browser test draws (the README's screenshot): a
// microservice with workers and actors, faults injected from the outside.
//
// The tree has a different strategy at each level:
//
//	microservice (OneForAll)
//	├── http-api (OneForOne)          handler-0, handler-1, handler-2
//	├── business-logic (OneForAll)    order-service, payment-service
//	├── data-layer (RestForOne)       db-pool, cache, repository
//	└── notifications (OneForOne)     audit, mailer (actors)
//
// Every worker is a fake [Worker]: it does a little work on a ticker,
// reports the health it is told to, and crashes on request. The handlers
// tell the audit actor of every request, the order service tells the
// mailer of every order, so the actors' mailboxes and counts move. Faults
// come from the outside ([Tree.Inject], [Worker.Crash], [Worker.SetHealth],
// [Tree.Poison]) so that a program can show what each supervisor does about
// them.
//
// examples/microservice builds the first three subsystems in its own
// main.go, for a reader to copy; this package exists because a command and
// a test need the same tree, and neither can import an example.
package demo
