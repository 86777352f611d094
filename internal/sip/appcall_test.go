package sip_test

import (
	"context"
	"log/slog"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/privox/privox/internal/attendant"
	"github.com/privox/privox/internal/call"
	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/media"
	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/sip"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/tenancy"
)

// TestApplicationCallerVanishes: a caller reaches the attendant and then vanishes without a
// BYE (it sends no RTP). The media timeout hangs the call up cleanly: Privox sends BYE, the
// attendant's goroutine ends, every RTP port goes back and no goroutine is left behind.
func TestApplicationCallerVanishes(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	ctx := context.Background()
	db, err := store.Open(ctx, store.SQLite, filepath.Join(t.TempDir(), "privox.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	vault, err := keys.Open(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	db.SetSecretSealer(vault)
	if _, _, err := tenancy.Bootstrap(ctx, db, "default", "not-used-password"); err != nil {
		t.Fatal(err)
	}
	tn, err := db.TenantByName(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tenancy.CreateExtension(ctx, db, tenancy.Realm(tn), store.Extension{TenantID: tn.ID, Number: "1001"}, "secret-1001"); err != nil {
		t.Fatal(err)
	}
	if _, err := attendant.SaveMenu(ctx, db, tn.ID, "main", "800", []byte(`{"options":{"1":{"type":"hangup"}},"timeout_ms":60000}`)); err != nil {
		t.Fatal(err)
	}
	lo, hi, _ := configRange(privoxtest.RTPRange(40))
	relay, err := media.NewRelay(media.Config{PortMin: lo, PortMax: hi, BindIP: netip.MustParseAddr("127.0.0.1"), MediaTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	apps := call.NewApps(slog.New(slog.DiscardHandler))
	attendant.New(db, attendant.TonePrompts{}, nil).Register(apps)
	srv, err := sip.New(sip.Config{Addr: "127.0.0.1:0", Node: "test"}, sip.Deps{DB: db, Relay: relay, Logger: slog.New(slog.DiscardHandler), Secrets: vault})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetApps(apps)
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, direct: srv}
	e.sippUAC("caller", "uac_wait_bye.xml", "udp", "-s", "800", "-key", "session_expires", "1800").wait(t)
	waitFor(t, "the call to end", func() bool { return srv.ActiveCalls() == 0 })
	waitFor(t, "ports back", func() bool { return relay.Stats().PortsInUse == 0 })
	var cdrs []store.CDR
	waitFor(t, "CDR", func() bool {
		cdrs, _ = db.ListCDRs(ctx, tn.ID, 0, store.Page{Limit: 10})
		return len(cdrs) == 1
	})
	if cdrs[0].HangupBy != "system:media-timeout" {
		t.Errorf("CDR hangup_by %q", cdrs[0].HangupBy)
	}
	if st := apps.Pacer().Stats(); st.Streams != 0 || st.Sent == 0 {
		t.Errorf("pacer: %d streams left, %d frames sent", st.Streams, st.Sent)
	}
	srv.Stop()
	apps.Close()
	relay.Close()
	db.Close()
	goleak.VerifyNone(t, ignore)
}
