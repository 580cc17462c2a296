package actor

import (
	"context"
	"testing"
)

// BenchmarkAsk: one request/reply round trip with Ask, beside the least Go
// can do for the same: a request carrying a fresh 1-buffered reply channel
// to a goroutine that answers on it.
func BenchmarkAsk(b *testing.B) {
	type req struct {
		n     int
		reply Reply[int]
	}
	b.Run("actor", func(b *testing.B) {
		sup := startSup(b)
		ref, err := Spawn(sup, "echo", func() Actor[req] {
			return Func[req](func(_ *Context[req], r req) error { r.reply.Send(r.n); return nil })
		})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if _, err := Ask(ctx, ref, func(r Reply[int]) req { return req{i, r} }); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-channels", func(b *testing.B) {
		type rawReq struct {
			n     int
			reply chan int
		}
		in := make(chan rawReq)
		defer close(in)
		go func() {
			for r := range in {
				r.reply <- r.n
			}
		}()
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			r := rawReq{i, make(chan int, 1)}
			in <- r
			<-r.reply
		}
	})
}
