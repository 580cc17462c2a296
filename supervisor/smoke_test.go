package supervisor

import (
	"context"
	"errors"
	"testing"
)

func TestSmoke(t *testing.T) {
	s := New("root", OneForOne, Permanent)
	fails := 0
	started := make(chan int, 10)
	err := s.Child("w").SpawnFunc(func() Child {
		return ChildFunc(func(ctx context.Context) error {
			started <- fails
			if fails < 2 {
				fails++
				return errors.New("boom")
			}
			<-ctx.Done()
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-started
	<-started
	<-started
	infos := s.WhichChildren()
	t.Logf("%+v", infos)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
}
