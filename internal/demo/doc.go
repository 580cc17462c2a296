// Package demo builds the supervision tree of the patterns guide's
// microservice example, for programs that want to show a supervision tree
// at work: examples/microservice, and the demo command of cmd/airssys.
//
// The tree has the guide's shape, with a different strategy at each level:
//
//	microservice (OneForAll)
//	├── http-api (OneForOne)          handler-0, handler-1, handler-2
//	├── business-logic (OneForAll)    order-service, payment-service
//	└── data-layer (RestForOne)       db-pool, cache, repository
//
// Every leaf is a fake [Worker]: it does a little work on a ticker, reports
// the health it is told to, and crashes on request. Faults come from the
// outside ([Tree.Inject], [Worker.Crash], [Worker.SetHealth]) so that a
// program can show what each supervisor does about them.
//
// [Printer] and [WriteTree] render events and the tree as readable text.
package demo
