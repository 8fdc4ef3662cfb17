package bot

import (
	"context"
	"testing"
)

// TestSingletonLease: of two replicas one holds a loop's lease; when it releases it at shutdown
// the other takes over at once; a holder keeps it across calls.
func TestSingletonLease(t *testing.T) {
	st, _ := openStore(t)
	ctx := context.Background()
	a := &singleton{leases: st, key: SenderLease, owner: "a"}
	b := &singleton{leases: st, key: SenderLease, owner: "b"}
	if ok, err := a.hold(ctx); !ok || err != nil {
		t.Fatalf("a: %v %v, want the lease", ok, err)
	}
	if ok, err := b.hold(ctx); ok || err != nil {
		t.Fatalf("b: %v %v, want no lease while a holds it", ok, err)
	}
	if ok, _ := a.hold(ctx); !ok {
		t.Fatal("a lost its own lease")
	}
	a.release()
	if ok, err := b.hold(ctx); !ok || err != nil {
		t.Fatalf("b after a released: %v %v, want the lease", ok, err)
	}
	if ok, _ := (&singleton{}).hold(ctx); !ok {
		t.Fatal("without leases a loop must always run")
	}
}
