package call

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Frame is the packet interval of every stream an application sends.
const Frame = 20 * time.Millisecond

// LateAfter is how late a packet may leave before the pacer counts it as late.
const LateAfter = 5 * time.Millisecond

// Phases is how many send instants a shard spreads its streams over within one frame: every
// 2 ms a shard sends the frames of a tenth of its streams, so a thousand calls never leave as
// one burst and no instant carries more work than a tenth of a frame's.
const Phases = 10

const phaseDur = Frame / Phases

// Pacer sends the audio of every playing endpoint on one 20 ms clock: a few goroutines
// (shards, one per CPU) wake at absolute deadlines and send one frame for each stream of the
// phase that is due, so a thousand calls cost a few wake-ups per frame instead of a thousand,
// timestamps follow the clock and nothing drifts or bursts. An endpoint joins a shard while it
// plays and leaves when its source ends.
type Pacer struct {
	shards []*shard
	rr     atomic.Uint32
	sent   atomic.Uint64
	late   atomic.Uint64
	stop   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
}

type shard struct {
	p      *Pacer
	mu     sync.Mutex
	phases [Phases]map[*Endpoint]struct{}
	n      int
	wake   chan struct{}
}

// PacerStats counts the frames the pacer sent and those that left more than LateAfter after
// their deadline.
type PacerStats struct {
	Sent, Late uint64
	Streams    int
}

// NewPacer starts a pacer with one shard per CPU (at least two).
func NewPacer() *Pacer {
	n := max(2, runtime.GOMAXPROCS(0))
	p := &Pacer{stop: make(chan struct{})}
	for range n {
		sh := &shard{p: p, wake: make(chan struct{}, 1)}
		for i := range sh.phases {
			sh.phases[i] = map[*Endpoint]struct{}{}
		}
		p.shards = append(p.shards, sh)
		p.wg.Add(1)
		go sh.run()
	}
	return p
}

// Close stops the pacer's goroutines; playing endpoints stop sending.
func (p *Pacer) Close() {
	p.once.Do(func() { close(p.stop) })
	p.wg.Wait()
}

// Stats returns the counters.
func (p *Pacer) Stats() PacerStats {
	st := PacerStats{Sent: p.sent.Load(), Late: p.late.Load()}
	for _, sh := range p.shards {
		sh.mu.Lock()
		st.Streams += sh.n
		sh.mu.Unlock()
	}
	return st
}

// add puts e on the next shard, in its least busy phase; the caller holds e.mu.
func (p *Pacer) add(e *Endpoint) *shard {
	sh := p.shards[int(p.rr.Add(1))%len(p.shards)]
	sh.mu.Lock()
	best := 0
	for i := range sh.phases {
		if len(sh.phases[i]) < len(sh.phases[best]) {
			best = i
		}
	}
	e.phase = best
	sh.phases[best][e] = struct{}{}
	sh.n++
	sh.mu.Unlock()
	select {
	case sh.wake <- struct{}{}:
	default:
	}
	return sh
}

func (sh *shard) remove(e *Endpoint) {
	sh.mu.Lock()
	if _, ok := sh.phases[e.phase][e]; ok {
		delete(sh.phases[e.phase], e)
		sh.n--
	}
	sh.mu.Unlock()
}

// due returns the streams of phase ph into batch, and how many instants after k the next
// phase with streams comes (Phases when the shard is empty).
func (sh *shard) due(ph int, batch []*Endpoint) ([]*Endpoint, int64) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for e := range sh.phases[ph] {
		batch = append(batch, e)
	}
	for j := 1; j < Phases; j++ {
		if len(sh.phases[(ph+j)%Phases]) > 0 {
			return batch, int64(j)
		}
	}
	return batch, Phases
}

func (sh *shard) idle() bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.n == 0
}

func (sh *shard) run() {
	defer sh.p.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var batch []*Endpoint
	var start time.Time
	var k int64 // the instant being served: start + k·phaseDur, phase k mod Phases
	for {
		if sh.idle() {
			select {
			case <-sh.wake:
				start = time.Time{}
				continue
			case <-sh.p.stop:
				return
			}
		}
		if start.IsZero() {
			start, k = time.Now(), 0
		}
		due := start.Add(time.Duration(k) * phaseDur)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-sh.p.stop:
				return
			}
		}
		var step int64
		batch, step = sh.due(int(k%Phases), batch[:0])
		for _, e := range batch {
			if !e.tick() {
				continue
			}
			sh.p.sent.Add(1)
			if time.Since(due) > LateAfter {
				sh.p.late.Add(1)
			}
		}
		clear(batch) // no references to finished endpoints while the shard sleeps
		k += step
		if behind := time.Since(start.Add(time.Duration(k) * phaseDur)); behind > 10*Frame {
			// The machine stalled: skip whole frames rather than burst to catch up; every
			// stream keeps its phase.
			k += int64(behind/Frame) * Phases
		}
	}
}
