package sip

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/privox/privox/internal/store"
)

// cdrWriter records a CDR (traffic category) and the journal entries (usage category) of the
// users on both ends of every call, off the signalling path: calls are answered and end into a
// queue that one goroutine writes to the store. An answered call's CDR is written at the
// answer (in progress) and completed at the end; should the node die in between, recovery at
// its next start completes it with the end marked unknown (recoverOpen), so no answered call
// goes without a CDR. Journal entries are written when the call ends.
type cdrWriter struct {
	db    *store.DB
	log   *slog.Logger
	node  string
	queue chan cdrItem
	done  chan struct{}
	once  sync.Once
	start sync.Once
}

type cdrItem = store.CallRecord

// cdrBatch is the most calls written in one transaction; cdrLinger is how long the writer
// waits for more calls to end once one has, so that a busy system commits a few times a second
// instead of once per call.
const (
	cdrBatch  = 256
	cdrLinger = 50 * time.Millisecond
)

func newCDRWriter(db *store.DB, log *slog.Logger) *cdrWriter {
	return &cdrWriter{db: db, log: log, queue: make(chan cdrItem, 10000), done: make(chan struct{})}
}

func (w *cdrWriter) startLoop() {
	w.start.Do(func() { go w.run() })
}

func (w *cdrWriter) run() {
	defer close(w.done)
	batch := make([]cdrItem, 0, cdrBatch)
	linger := time.NewTimer(cdrLinger)
	linger.Stop()
	for it := range w.queue {
		batch = append(batch[:0], it)
		linger.Reset(cdrLinger)
	collect:
		for len(batch) < cdrBatch {
			select {
			case it, ok := <-w.queue:
				if !ok {
					break collect // closing: write what there is now
				}
				batch = append(batch, it)
			case <-linger.C:
				break collect
			}
		}
		linger.Stop()
		w.write(batch)
	}
}

// write stores a batch in one transaction; should that fail, each call is tried on its own so
// that one bad record loses no other.
func (w *cdrWriter) write(batch []cdrItem) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := w.db.RecordCalls(ctx, batch)
	if err == nil {
		return
	}
	if len(batch) == 1 {
		w.log.Error("record CDR", "err", err, "call_id", batch[0].CDR.CallID)
		return
	}
	for i := range batch {
		if err := w.db.RecordCalls(ctx, batch[i:i+1]); err != nil {
			w.log.Error("record CDR", "err", err, "call_id", batch[i].CDR.CallID)
		}
	}
}

// close writes what is queued and stops.
func (w *cdrWriter) close() {
	w.once.Do(func() {
		w.startLoop()
		close(w.queue)
		<-w.done
	})
}

// recoverOpen completes the CDRs this node left in progress (it stopped during calls).
func (w *cdrWriter) recoverOpen(ctx context.Context) error {
	n, err := w.db.RecoverOpenCDRs(ctx, w.node)
	if err != nil {
		return err
	}
	if n > 0 {
		w.log.Warn("completed CDRs of calls in progress when the node stopped; their end is unknown", "cdrs", n)
	}
	return nil
}

// started queues the start row of a call that was just answered (caller holds c.mu).
func (w *cdrWriter) started(c *call) {
	at := c.answerAt.UnixMilli()
	cdr := store.CDR{TenantID: c.tenant.ID, CallID: c.id, Callee: c.dialed, Direction: c.direction(), Trunk: c.trunk,
		StartAt: c.startAt.UnixMilli(), AnswerAt: &at, EndAt: at, Cause: 200, InProgress: true, Node: w.node}
	if c.caller != nil {
		cdr.Caller = c.caller.number
		cdr.CallerUserID = c.caller.userPtr()
	}
	if c.callee != nil {
		cdr.CalleeUserID = c.callee.userPtr()
	}
	if len(c.diverted) > 0 {
		cdr.ForwardedFrom, cdr.Callee = c.diverted[0].From, c.fwdTarget
	}
	select {
	case w.queue <- cdrItem{CDR: cdr}:
	default:
		w.log.Error("CDR queue full, start row dropped (the call's CDR is written when it ends)", "call_id", c.id)
	}
}

// record queues the CDR of an ended call.
func (w *cdrWriter) record(c *call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cdr := store.CDR{TenantID: c.tenant.ID, CallID: c.id, Callee: c.dialed, Direction: c.direction(), Trunk: c.trunk,
		StartAt: c.startAt.UnixMilli(), EndAt: c.endAt.UnixMilli(), Cause: c.cause, HangupBy: c.hangupBy, Node: w.node}
	if c.caller != nil {
		cdr.Caller = c.caller.number
		cdr.CallerUserID = c.caller.userPtr()
	}
	if c.callee != nil {
		cdr.CalleeUserID = c.callee.userPtr()
	}
	if len(c.diverted) > 0 {
		cdr.ForwardedFrom, cdr.Callee = c.diverted[0].From, c.fwdTarget
	}
	answered := !c.answerAt.IsZero()
	if answered {
		at := c.answerAt.UnixMilli()
		cdr.AnswerAt = &at
		cdr.DurationMS = c.endAt.Sub(c.answerAt).Milliseconds()
	}
	var journal []store.JournalEntry
	if cdr.CallerUserID != nil {
		journal = append(journal, store.JournalEntry{TenantID: c.tenant.ID, UserID: *cdr.CallerUserID, CallID: c.id, Direction: "out",
			PeerNumber: c.dialed, StartAt: cdr.StartAt, Answered: answered, DurationMS: cdr.DurationMS, Cause: c.cause})
		if c.callee != nil {
			journal[len(journal)-1].PeerName = c.callee.display
		}
	}
	if cdr.CalleeUserID != nil {
		e := store.JournalEntry{TenantID: c.tenant.ID, UserID: *cdr.CalleeUserID, CallID: c.id, Direction: "in",
			PeerNumber: cdr.Caller, StartAt: cdr.StartAt, Answered: answered, DurationMS: cdr.DurationMS, Cause: c.cause}
		if c.caller != nil {
			e.PeerName = c.callerDisplay(c.callee)
		}
		journal = append(journal, e)
	}
	select {
	case w.queue <- cdrItem{CDR: cdr, Journal: journal}:
	default:
		w.log.Error("CDR queue full, record dropped", "call_id", c.id)
	}
}

// direction is the CDR's direction of a call (caller holds c.mu).
func (c *call) direction() string {
	if c.caller != nil && c.caller.trunk != "" {
		return "inbound"
	}
	if c.trunk != "" {
		return "outbound"
	}
	return "internal"
}
