package credential

import (
	"bufio"
	"context"
	"errors"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// Every argon2id computation holds argonMemory KiB for its duration, so the number running at
// once decides how much memory password checks take: unbounded, a burst of parallel logins
// took gigabytes. Computations wait for one of a fixed number of slots, sized at start to
// half the memory available divided by one computation's memory, at least one and at most a
// few per CPU (more would only queue for the CPU anyway).

// Upper bounds for hashes read back from the store, so that a tampered hash cannot make a
// check take more than a slot's memory.
const (
	maxArgonMemory = argonMemory
	maxArgonTime   = 10
)

// HashStats describes the argon2id computations of this process.
type HashStats struct {
	// Limit is how many may run at once.
	Limit int
	// Running is how many run now; Peak the most that ever ran at once.
	Running, Peak int
	// Total counts every computation since start.
	Total int64
}

type slotPool struct {
	sem     chan struct{}
	running atomic.Int64
	peak    atomic.Int64
	total   atomic.Int64
}

var slots = newSlotPool(slotCount(availableMemory(), runtime.NumCPU()))

func newSlotPool(n int) *slotPool { return &slotPool{sem: make(chan struct{}, n)} }

// slotCount is the number of slots for avail bytes of free memory (0: unknown) and cpus.
func slotCount(avail uint64, cpus int) int {
	most := min(max(2, cpus), 8)
	if avail == 0 {
		return most
	}
	n := avail / 2 / (argonMemory * 1024)
	return int(max(1, min(n, uint64(most))))
}

// Hashes reports the argon2id computations of this process.
func Hashes() HashStats {
	return HashStats{Limit: cap(slots.sem), Running: int(slots.running.Load()), Peak: int(slots.peak.Load()), Total: slots.total.Load()}
}

// idKey runs argon2.IDKey in a slot, waiting for one until ctx ends.
func idKey(ctx context.Context, password, salt []byte, t, m uint32, p uint8, keyLen uint32) ([]byte, error) {
	select {
	case slots.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	n := slots.running.Add(1)
	for {
		pk := slots.peak.Load()
		if n <= pk || slots.peak.CompareAndSwap(pk, n) {
			break
		}
	}
	slots.total.Add(1)
	defer func() {
		slots.running.Add(-1)
		<-slots.sem
	}()
	return argon2.IDKey(password, salt, t, m, p, keyLen), nil
}

var dummy struct {
	once sync.Once
	hash string
	err  error
}

// VerifyUnknown does the work of checking password against a real account's hash and
// always fails: a login for an account that does not exist takes as long as a wrong
// password for one that does.
func VerifyUnknown(ctx context.Context, password string) error {
	dummy.once.Do(func() { dummy.hash, dummy.err = HashPassword("privox dummy account password") })
	if dummy.err != nil {
		return dummy.err
	}
	if err := VerifyPasswordContext(ctx, dummy.hash, password); err != nil && !errors.Is(err, ErrMismatch) {
		return err
	}
	return ErrMismatch
}

// availableMemory is the memory this process may still take, in bytes (0 when unknown): the
// least of the system's available memory, the cgroup's headroom and GOMEMLIMIT.
func availableMemory() uint64 {
	var avail uint64
	take := func(n uint64) {
		if n > 0 && (avail == 0 || n < avail) {
			avail = n
		}
	}
	if kb := meminfo("MemAvailable"); kb > 0 {
		take(kb * 1024)
	}
	for _, f := range [][2]string{{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"},
		{"/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"}} {
		limit, used := readUint(f[0]), readUint(f[1])
		if limit > 0 && limit < 1<<60 && used < limit {
			take(limit - used)
		}
	}
	if l := debug.SetMemoryLimit(-1); l > 0 && l < 1<<62 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if uint64(l) > ms.Sys {
			take(uint64(l) - ms.Sys)
		}
	}
	return avail
}

func meminfo(key string) uint64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == key {
			n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func readUint(path string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n
}
