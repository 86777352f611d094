package sip

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/privox/privox/internal/store"
)

// TestCDRWriterBatchesAndIsolatesBadRecords: calls queued together are written together, and a
// record the store refuses costs only itself.
func TestCDRWriterBatchesAndIsolatesBadRecords(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.SQLite, filepath.Join(t.TempDir(), "cdr.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tn, err := db.CreateTenant(ctx, store.Tenant{Name: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	w := newCDRWriter(db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	const n = 600 // more than two batches
	for i := range n {
		tenant := tn.ID
		if i == 300 {
			tenant = tn.ID + 99 // no such tenant: the store refuses this one
		}
		w.queue <- cdrItem{CDR: store.CDR{TenantID: tenant, CallID: "call-" + string(rune('a'+i%26)), Caller: "1001", Callee: "1002",
			Direction: "internal", StartAt: int64(i), EndAt: int64(i + 1)}}
	}
	w.close() // starts the loop with everything queued, writes it, stops
	var got int
	p := store.Page{Limit: 500}
	for {
		cdrs, err := db.ListCDRs(ctx, tn.ID, 0, p)
		if err != nil {
			t.Fatal(err)
		}
		got += len(cdrs)
		if len(cdrs) < p.Limit {
			break
		}
		p.After = cdrs[len(cdrs)-1].ID
	}
	if got != n-1 {
		t.Fatalf("stored %d CDRs, want %d", got, n-1)
	}
}
