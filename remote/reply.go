package remote

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/airssys/rt/actor"
)

// Asks across nodes. An actor.Reply inside a message is encoded, by the
// message's codec, through actor.ReplyPort: the port below registers the
// asker's answer slot in a table of this process under a fresh id and puts
// "<asker node>.<id>" on the wire. The node that decodes the message gets a
// Reply whose answer it publishes to the asker node's inbox, where the
// table finds the slot. The port learns which node encodes or decodes, and
// for which target, from a binding set around every encode and decode this
// package makes: codecs have no context argument, so the binding is
// process-wide, under a mutex held for the duration of one Encode or
// Decode.
//
// An entry leaves the table when its answer arrives; when the node it waits
// on goes down (the Ask fails with ErrNodeDown); when the message carrying
// it is dead-lettered or requeued by this node; or when nobody can receive
// the answer any more (the asker gave up and dropped the request), checked
// every heartbeat.

var (
	bindMu sync.Mutex
	bound  atomic.Pointer[binding]

	portOnce sync.Once

	pendingMu   sync.Mutex
	pendingNext uint64
	pendingTab  = map[uint64]*pendingReply{}
)

type binding struct {
	n      *Node
	target string   // the node the message goes to (encoding)
	ids    []uint64 // replies exported during the encode
}

type pendingReply struct {
	answer func([]byte, error)
	gone   func() bool
	n      *Node
	target string
}

func installPort() { portOnce.Do(func() { actor.SetReplyPort(port{}) }) }

// encode runs codec.Encode with the binding that lets Replies inside msg
// register, and returns the ids of those it registered, also on failure
// (the caller fails them). Message types that cannot hold a Reply (see
// carriesReply) are encoded without the binding, concurrently.
func encode[M any](n *Node, target string, codec Codec[M], msg M, carry bool) (data []byte, ids []uint64, err error) {
	if !carry {
		return encodePlain(codec, msg)
	}
	bindMu.Lock()
	b := binding{n: n, target: target}
	bound.Store(&b)
	defer func() {
		bound.Store(nil)
		bindMu.Unlock()
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: encode panicked: %v", ErrCodec, v)
		}
		ids = b.ids
	}()
	data, err = codec.Encode(msg)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: encode: %w", ErrCodec, err)
	}
	return data, nil, nil
}

func encodePlain[M any](codec Codec[M], msg M) (data []byte, _ []uint64, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: encode panicked: %v", ErrCodec, v)
		}
	}()
	data, err = codec.Encode(msg)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: encode: %w", ErrCodec, err)
	}
	return data, nil, nil
}

// decode runs codec.Decode with the binding that lets Replies inside the
// message answer through n (only for message types that can hold one). A
// panicking codec is a decode error.
func decode[M any](n *Node, codec Codec[M], data []byte, carry bool) (msg M, err error) {
	if carry {
		bindMu.Lock()
		bound.Store(&binding{n: n})
	}
	defer func() {
		if carry {
			bound.Store(nil)
			bindMu.Unlock()
		}
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: decode panicked: %v", ErrCodec, v)
		}
	}()
	msg, err = codec.Decode(data)
	if err != nil {
		return msg, fmt.Errorf("%w: decode: %w", ErrCodec, err)
	}
	return msg, nil
}

var errUnbound = errors.New("remote: a Reply can be encoded only by a remote node sending the message (through its Codec)")

type port struct{}

func (port) ExportReply(answer func([]byte, error), gone func() bool) ([]byte, error) {
	b := bound.Load() // bindMu is held by encode
	if b == nil || b.target == "" {
		return nil, errUnbound
	}
	pendingMu.Lock()
	if b.n.closing.Load() {
		// Close fails the Asks it finds here (failPending, after it sets
		// closing, under pendingMu): a slot added later would be swept
		// by no one and keep the closed node.
		pendingMu.Unlock()
		return nil, fmt.Errorf("remote: node %q: %w", b.n.name, ErrClosed)
	}
	pendingNext++
	id := pendingNext
	pendingTab[id] = &pendingReply{answer: answer, gone: gone, n: b.n, target: b.target}
	pendingMu.Unlock()
	b.ids = append(b.ids, id)
	return []byte(b.n.name + "." + strconv.FormatUint(id, 10)), nil
}

func (port) ImportReply(token []byte) (func([]byte, error), error) {
	b := bound.Load()
	if b == nil || b.target != "" {
		return nil, errUnbound
	}
	tok := string(token)
	i := strings.LastIndexByte(tok, '.')
	if i < 0 {
		return nil, fmt.Errorf("%w: reply token %q", ErrCodec, tok)
	}
	asker := tok[:i]
	id, err := strconv.ParseUint(tok[i+1:], 10, 64)
	if err != nil || !validName(asker) {
		return nil, fmt.Errorf("%w: reply token %q", ErrCodec, tok)
	}
	n := b.n
	return func(data []byte, err error) { n.sendAnswer(asker, id, data, err) }, nil
}

// sendAnswer publishes an Ask's answer to the asker's node.
func (n *Node) sendAnswer(asker string, id uint64, data []byte, failure error) {
	if n.closing.Load() {
		return
	}
	var w writer
	w.byte(tAnswer)
	w.uint(id)
	w.str(n.name)
	if failure != nil {
		w.byte(1)
		w.b = append(w.b, failure.Error()...)
	} else {
		w.byte(0)
		w.b = append(w.b, data...)
	}
	if len(w.b) > n.maxPay {
		// Tell the asker why rather than leave it waiting.
		w.b = w.b[:0]
		w.byte(tAnswer)
		w.uint(id)
		w.str(n.name)
		w.byte(1)
		w.b = append(w.b, fmt.Sprintf("answer of %d bytes: %v", len(data), ErrTooLarge)...)
		n.stats.deadLetter("too_large")
	}
	n.stats.countSent(len(data))
	if n.nc.Publish(n.inboxOf(asker), w.b) != nil {
		n.stats.uncountSent(len(data))
	}
}

// onAnswer delivers an answer that arrived at this node's inbox.
func (n *Node) onAnswer(r *reader) {
	id := r.uint()
	from := r.str()
	failed := r.byte() == 1
	rest := r.rest()
	if r.err != nil {
		n.malformed(r.err, nil)
		return
	}
	pendingMu.Lock()
	p := pendingTab[id]
	if p != nil && p.n == n {
		delete(pendingTab, id)
	} else {
		p = nil
	}
	pendingMu.Unlock()
	if p == nil {
		return // answered already, given up, or failed by a NodeDown
	}
	n.stats.received.Add(1)
	n.stats.receivedBytes.Add(uint64(len(rest)))
	if failed {
		p.answer(nil, &RemoteError{Node: from, Text: string(rest)})
		return
	}
	p.answer(rest, nil)
}

// failPending fails n's Asks waiting on target ("" : all of n's).
func failPending(n *Node, target string, cause error) {
	var fail []*pendingReply
	pendingMu.Lock()
	for id, p := range pendingTab {
		if p.n == n && (target == "" || p.target == target) {
			fail = append(fail, p)
			delete(pendingTab, id)
		}
	}
	pendingMu.Unlock()
	for _, p := range fail {
		p.answer(nil, cause)
	}
}

// failIDs fails the given Asks with cause.
func failIDs(ids []uint64, cause error) {
	if len(ids) == 0 {
		return
	}
	var fail []*pendingReply
	pendingMu.Lock()
	for _, id := range ids {
		if p := pendingTab[id]; p != nil {
			fail = append(fail, p)
			delete(pendingTab, id)
		}
	}
	pendingMu.Unlock()
	for _, p := range fail {
		p.answer(nil, cause)
	}
}

// dropIDs forgets the given entries: their messages will be encoded again
// (requeued), which registers the same slots afresh.
func dropIDs(ids []uint64) {
	if len(ids) == 0 {
		return
	}
	pendingMu.Lock()
	for _, id := range ids {
		delete(pendingTab, id)
	}
	pendingMu.Unlock()
}

// sweepPending forgets n's entries nobody can receive any more.
func sweepPending(n *Node) {
	pendingMu.Lock()
	for id, p := range pendingTab {
		if p.n == n && p.gone() {
			delete(pendingTab, id)
		}
	}
	pendingMu.Unlock()
}

// pendingCount is how many of n's Asks wait for a remote answer.
func pendingCount(n *Node) int {
	pendingMu.Lock()
	defer pendingMu.Unlock()
	c := 0
	for _, p := range pendingTab {
		if p.n == n {
			c++
		}
	}
	return c
}

// carriesReply reports whether values of M can hold an actor.Reply, which
// only encoding with a binding can carry. It walks the type once (cached):
// structs, pointers, slices, arrays and maps are looked into; an interface
// may hold anything, so it counts.
func carriesReply[M any]() bool {
	t := reflect.TypeFor[M]()
	if v, ok := carryCache.Load(t); ok {
		return v.(bool)
	}
	v := mayHoldReply(t, map[reflect.Type]bool{})
	carryCache.Store(t, v)
	return v
}

var (
	carryCache sync.Map // reflect.Type -> bool
	replyPkg   = reflect.TypeFor[actor.Reply[int]]().PkgPath()
)

func mayHoldReply(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false
	}
	seen[t] = true
	if t.PkgPath() == replyPkg && strings.HasPrefix(t.Name(), "Reply[") {
		return true
	}
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Chan:
		return mayHoldReply(t.Elem(), seen)
	case reflect.Map:
		return mayHoldReply(t.Key(), seen) || mayHoldReply(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			if mayHoldReply(t.Field(i).Type, seen) {
				return true
			}
		}
	}
	return false
}
