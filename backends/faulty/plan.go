package faulty

import (
	"encoding/binary"
	"hash/fnv"
	"math/rand/v2"
	"time"

	"github.com/godwit-backup/godwit/backends"
)

// PlanFunc adapts a function to a Plan. The function must be safe for
// concurrent use.
type PlanFunc func(op Op, h backends.Handle, n int) Fault

// Decide returns f(op, h, n).
func (f PlanFunc) Decide(op Op, h backends.Handle, n int) Fault { return f(op, h, n) }

// NoFaults passes every call through.
var NoFaults Plan = PlanFunc(func(Op, backends.Handle, int) Fault { return Fault{} })

// FailNth returns a plan that injects fault into the nth call of op
// (counting from 1) and passes every other call through.
func FailNth(op Op, n int, fault Fault) Plan {
	return PlanFunc(func(o Op, _ backends.Handle, i int) Fault {
		if o == op && i == n {
			return fault
		}
		return Fault{}
	})
}

// Seeded returns a pseudo-random plan that injects a fault into about rate
// of all calls (0 never, 1 always). The decision for a call depends only on
// seed, op, handle and call number, so the same sequence of calls on a new
// Backend gets the same faults, whatever the goroutines in between do.
//
// Seeded injects only faults that a retry can get past: Transient,
// DropAfter, Truncate (for Load and List) and delays of 1 µs to 2 ms,
// never Permanent.
func Seeded(seed int64, rate float64) Plan {
	return seeded{seed: uint64(seed), rate: rate}
}

type seeded struct {
	seed uint64
	rate float64
}

func (s seeded) Decide(op Op, h backends.Handle, n int) Fault {
	hash := fnv.New64a()
	var buf [9]byte
	buf[0] = byte(op)
	binary.LittleEndian.PutUint64(buf[1:], uint64(n))
	hash.Write(buf[:])
	hash.Write([]byte(h.Type))
	hash.Write([]byte{0})
	hash.Write([]byte(h.Name))
	rng := rand.New(rand.NewPCG(s.seed, hash.Sum64()))

	if rng.Float64() >= s.rate {
		return Fault{}
	}
	switch p := rng.IntN(10); {
	case p < 4:
		return Fault{Kind: Transient}
	case p < 7:
		return Fault{Kind: DropAfter}
	case p < 9 && (op == OpLoad || op == OpList):
		// Log-uniform, so that cuts near the start and deep into a
		// large object are both common.
		return Fault{Kind: Truncate, Keep: rng.IntN(1 << rng.IntN(21))}
	case p < 9:
		return Fault{Kind: Transient}
	default:
		return Fault{Delay: time.Microsecond + time.Duration(rng.Int64N(int64(2*time.Millisecond)))}
	}
}
