package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/store/storetest"
)

// TestCheckIntegrity: an intact database passes the engine's own check; on PostgreSQL the
// check says it is not available without amcheck and checks every index with it; a healthy
// store is ready.
func TestCheckIntegrity(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.CreateTenant(ctx, store.Tenant{Name: "acme"}); err != nil {
			t.Fatal(err)
		}
		rep, err := db.CheckIntegrity(ctx)
		if err != nil || !rep.OK() {
			t.Fatalf("intact database: %+v %v", rep, err)
		}
		switch db.Engine() {
		case store.SQLite:
			if rep.Check != "integrity_check" || rep.Unavailable != "" {
				t.Fatalf("SQLite check: %+v", rep)
			}
		case store.Postgres:
			if rep.Check != "" || !strings.Contains(rep.Unavailable, "amcheck is not installed") {
				t.Fatalf("PostgreSQL without amcheck: %+v", rep)
			}
			if _, err := db.Exec(ctx, `CREATE EXTENSION amcheck`); err != nil {
				t.Skipf("amcheck cannot be installed here: %v", err)
			}
			rep, err = db.CheckIntegrity(ctx)
			if err != nil || !rep.OK() || rep.Check != "amcheck bt_index_check" || rep.Objects < 10 {
				t.Fatalf("PostgreSQL with amcheck: %+v %v", rep, err)
			}
		}
		if err := db.Healthy(ctx); err != nil {
			t.Fatalf("healthy store: %v", err)
		}
		if store.IsCorruption(errors.New("database disk image is malformed")) {
			t.Fatal("an error of another kind taken for corruption")
		}
	})
}
