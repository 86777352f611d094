package media

import (
	"crypto/rand"
	"encoding/binary"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/privox/privox/internal/audio"
)

// Default pacer settings used when [PacerConfig] leaves them zero.
const (
	// DefaultPacerSlots spreads the streams over 20 slots, one per millisecond of the 20 ms
	// period, so that no instant carries more than a twentieth of the sends.
	DefaultPacerSlots = 20
	// DefaultMaxCatchUp is how many overdue frames a stream sends back to back after a stall;
	// beyond that the schedule skips ahead and the RTP timestamps jump with the clock.
	DefaultMaxCatchUp = 3
	// DefaultLateThreshold is how late a packet may leave before it counts as late.
	DefaultLateThreshold = 5 * time.Millisecond
)

// PacerConfig configures a [Pacer].
type PacerConfig struct {
	// Slots is the number of send instants per 20 ms period; streams are spread evenly over
	// them. Zero means DefaultPacerSlots.
	Slots int
	// MaxCatchUp bounds the burst after a stall, in frames per stream. Zero means
	// DefaultMaxCatchUp.
	MaxCatchUp int
	// LateThreshold is the lateness counted in [PacerStats.Late]. Zero means
	// DefaultLateThreshold.
	LateThreshold time.Duration
	// Workers is how many goroutines share the wheel, each serving every Workers-th slot on
	// the same schedule, so that sends use every core. Zero means GOMAXPROCS; Slots is
	// rounded up to a multiple of it.
	Workers int
}

// PacerStats are totals since the pacer started.
type PacerStats struct {
	Streams int
	// Packets counts packets handed to the streams' Send functions.
	Packets uint64
	// Late counts packets handed over later than LateThreshold after their due time.
	Late uint64
	// MaxLate is the largest lateness seen.
	MaxLate time.Duration
	// Skipped counts frames not sent because a stall exceeded the catch-up bound.
	Skipped uint64
}

// Pacer sends the packets of many outgoing RTP streams from a few goroutines (one per core) on
// one absolute schedule: the k-th instant is start + k·(20 ms / Slots), measured on the monotonic clock, so
// no error accumulates however long it runs. Each stream is pinned to one slot of the 20 ms
// wheel and sends exactly one frame each time its slot comes round. A pacer that wakes late
// (a stall, a loaded machine) serves the overdue instants at once, at most MaxCatchUp periods'
// worth; older ones are skipped and counted.
//
// Lifecycle: NewPacer → Start → Open streams → Stop (which closes nothing: streams still
// open simply stop being served).
type Pacer struct {
	cfg     PacerConfig
	slotDur time.Duration

	mu      sync.Mutex
	slots   []atomic.Pointer[[]*Stream] // copy-on-write per slot, read without a lock
	counts  []int
	streams int
	wakes   []chan struct{} // one per worker
	stop    chan struct{}
	wg      sync.WaitGroup
	started bool

	packets, late, skipped atomic.Uint64
	maxLate                atomic.Int64
}

// NewPacer returns a pacer; Start begins its schedule.
func NewPacer(cfg PacerConfig) *Pacer {
	if cfg.Slots <= 0 {
		cfg.Slots = DefaultPacerSlots
	}
	if cfg.MaxCatchUp <= 0 {
		cfg.MaxCatchUp = DefaultMaxCatchUp
	}
	if cfg.LateThreshold <= 0 {
		cfg.LateThreshold = DefaultLateThreshold
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	cfg.Workers = min(cfg.Workers, cfg.Slots)
	cfg.Slots = (cfg.Slots + cfg.Workers - 1) / cfg.Workers * cfg.Workers
	p := &Pacer{
		cfg:     cfg,
		slotDur: audio.FrameDuration / time.Duration(cfg.Slots),
		slots:   make([]atomic.Pointer[[]*Stream], cfg.Slots),
		counts:  make([]int, cfg.Slots),
		stop:    make(chan struct{}),
	}
	for range cfg.Workers {
		p.wakes = append(p.wakes, make(chan struct{}, 1))
	}
	return p
}

// Start launches the pacer's goroutines. A pacer starts once.
func (p *Pacer) Start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started {
		return
	}
	p.started = true
	for w := range p.cfg.Workers {
		p.wg.Add(1)
		go p.run(w)
	}
}

// Stop ends the pacer's goroutines and waits for them. Playbacks in progress are left as they
// are; close the streams to end them.
func (p *Pacer) Stop() {
	p.mu.Lock()
	started := p.started
	p.mu.Unlock()
	if !started {
		return
	}
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.wg.Wait()
}

// Stats returns the pacer's totals.
func (p *Pacer) Stats() PacerStats {
	p.mu.Lock()
	n := p.streams
	p.mu.Unlock()
	return PacerStats{Streams: n, Packets: p.packets.Load(), Late: p.late.Load(), MaxLate: time.Duration(p.maxLate.Load()), Skipped: p.skipped.Load()}
}

func (p *Pacer) add(s *Stream) {
	p.mu.Lock()
	best := 0
	for i, c := range p.counts {
		if c < p.counts[best] {
			best = i
		}
	}
	s.slot = best
	p.counts[best]++
	p.streams++
	old := p.slots[best].Load()
	var next []*Stream
	if old != nil {
		next = append(make([]*Stream, 0, len(*old)+1), *old...)
	}
	next = append(next, s)
	p.slots[best].Store(&next)
	p.mu.Unlock()
	w := p.wakes[best%p.cfg.Workers]
	select {
	case w <- struct{}{}:
	default:
	}
}

func (p *Pacer) remove(s *Stream) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.slots[s.slot].Load()
	if old == nil {
		return
	}
	next := make([]*Stream, 0, len(*old))
	for _, x := range *old {
		if x != s {
			next = append(next, x)
		}
	}
	if len(next) == len(*old) {
		return
	}
	p.counts[s.slot]--
	p.streams--
	p.slots[s.slot].Store(&next)
}

// idle reports whether worker w has no stream on any of its slots.
func (p *Pacer) idle(w int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for slot := w; slot < len(p.counts); slot += p.cfg.Workers {
		if p.counts[slot] > 0 {
			return false
		}
	}
	return true
}

// run is worker w: it serves the instants k ≡ w (mod Workers), whose slots are its own.
func (p *Pacer) run(w int) {
	defer p.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	slots := int64(p.cfg.Slots)
	step := int64(p.cfg.Workers)
	maxBehind := int64(p.cfg.MaxCatchUp) * slots
	for {
		// With no streams there is nothing to pace: wait for one, then start a fresh schedule.
		for p.idle(w) {
			select {
			case <-p.stop:
				return
			case <-p.wakes[w]:
			}
		}
		start := time.Now()
		k := int64(w) // next instant to serve
		for !p.idle(w) {
			due := time.Duration(k) * p.slotDur
			if wait := due - time.Since(start); wait > 0 {
				timer.Reset(wait)
				select {
				case <-p.stop:
					return
				case <-timer.C:
				}
			}
			now := int64(time.Since(start) / p.slotDur)
			if behind := now - k; behind > maxBehind {
				// A stall longer than the catch-up bound: skip the oldest instants. Each
				// stream notices the gap from its frame index and marks the next packet.
				skip := (behind - maxBehind) / step * step
				p.skipped.Add(uint64(skip / slots))
				k += skip
			}
			// Serve every instant of this worker that is due now.
			for ; k <= now; k += step {
				p.serve(k, start)
			}
		}
	}
}

// serve sends the frame of every stream on the slot of instant k.
func (p *Pacer) serve(k int64, start time.Time) {
	slot := int(k % int64(p.cfg.Slots))
	list := p.slots[slot].Load()
	if list == nil || len(*list) == 0 {
		return
	}
	period := k / int64(p.cfg.Slots)
	due := time.Duration(k) * p.slotDur
	for _, s := range *list {
		if !s.tick(period) {
			continue
		}
		late := time.Since(start) - due
		p.packets.Add(1)
		if late > p.cfg.LateThreshold {
			p.late.Add(1)
		}
		for {
			m := p.maxLate.Load()
			if int64(late) <= m || p.maxLate.CompareAndSwap(m, int64(late)) {
				break
			}
		}
	}
}

func random32() uint32 {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return binary.BigEndian.Uint32(b[:])
}
