package sip

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/privox/privox/internal/store"
)

// cdrWriter records a CDR (traffic category) and the journal entries (usage category) of the
// users on both ends of every call, off the signalling path: calls end into a queue that one
// goroutine writes to the store.
type cdrWriter struct {
	db    *store.DB
	log   *slog.Logger
	queue chan cdrItem
	done  chan struct{}
	once  sync.Once
	start sync.Once
}

type cdrItem struct {
	cdr     store.CDR
	journal []store.JournalEntry
}

func newCDRWriter(db *store.DB, log *slog.Logger) *cdrWriter {
	return &cdrWriter{db: db, log: log, queue: make(chan cdrItem, 10000), done: make(chan struct{})}
}

func (w *cdrWriter) startLoop() {
	w.start.Do(func() { go w.run() })
}

func (w *cdrWriter) run() {
	defer close(w.done)
	for it := range w.queue {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if _, err := w.db.RecordCall(ctx, it.cdr, it.journal); err != nil {
			w.log.Error("record CDR", "err", err, "call_id", it.cdr.CallID)
		}
		cancel()
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

// record queues the CDR of an ended call.
func (w *cdrWriter) record(c *call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cdr := store.CDR{TenantID: c.tenant.ID, CallID: c.id, Callee: c.dialed, Direction: "internal",
		StartAt: c.startAt.UnixMilli(), EndAt: c.endAt.UnixMilli(), Cause: c.cause, HangupBy: c.hangupBy}
	if c.caller != nil {
		cdr.Caller = c.caller.number
		cdr.CallerUserID = c.caller.userPtr()
	}
	if c.callee != nil {
		cdr.CalleeUserID = c.callee.userPtr()
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
			e.PeerName = c.caller.display
		}
		journal = append(journal, e)
	}
	select {
	case w.queue <- cdrItem{cdr: cdr, journal: journal}:
	default:
		w.log.Error("CDR queue full, record dropped", "call_id", c.id)
	}
}
