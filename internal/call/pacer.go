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

// Pacer sends the audio of every playing endpoint on one 20 ms clock: a few goroutines
// (shards) wake at absolute deadlines and send one frame for each of their streams, so a
// thousand calls cost a few timer wake-ups per frame instead of a thousand, timestamps follow
// the clock and nothing drifts or bursts. An endpoint joins a shard while it plays and leaves
// when its source ends.
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
	p       *Pacer
	mu      sync.Mutex
	streams map[*Endpoint]struct{}
	wake    chan struct{}
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
		sh := &shard{p: p, streams: map[*Endpoint]struct{}{}, wake: make(chan struct{}, 1)}
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
		st.Streams += len(sh.streams)
		sh.mu.Unlock()
	}
	return st
}

func (p *Pacer) add(e *Endpoint) *shard {
	sh := p.shards[int(p.rr.Add(1))%len(p.shards)]
	sh.mu.Lock()
	sh.streams[e] = struct{}{}
	sh.mu.Unlock()
	select {
	case sh.wake <- struct{}{}:
	default:
	}
	return sh
}

func (sh *shard) remove(e *Endpoint) {
	sh.mu.Lock()
	delete(sh.streams, e)
	sh.mu.Unlock()
}

func (sh *shard) run() {
	defer sh.p.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var batch []*Endpoint
	var next time.Time
	for {
		sh.mu.Lock()
		idle := len(sh.streams) == 0
		sh.mu.Unlock()
		if idle {
			select {
			case <-sh.wake:
				next = time.Now()
				continue
			case <-sh.p.stop:
				return
			}
		}
		if next.IsZero() {
			next = time.Now()
		}
		if d := time.Until(next); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-sh.p.stop:
				return
			}
		}
		sh.mu.Lock()
		batch = batch[:0]
		for e := range sh.streams {
			batch = append(batch, e)
		}
		sh.mu.Unlock()
		for _, e := range batch {
			if !e.tick() {
				continue
			}
			sh.p.sent.Add(1)
			if time.Since(next) > LateAfter {
				sh.p.late.Add(1)
			}
		}
		next = next.Add(Frame)
		if behind := time.Since(next); behind > 10*Frame {
			// The machine stalled: start a new clock rather than burst to catch up.
			next = time.Now()
		}
	}
}
