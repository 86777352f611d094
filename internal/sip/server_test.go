package sip_test

import (
	"context"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/media"
	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/sip"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/tenancy"
)

// TestMediaTimeout runs the SIP server on its own (as the app wires it, minus the app) with a
// relay whose media timeout is one second: an answered call that carries no RTP is hung up on
// both legs, and its CDR says why.
func TestMediaTimeout(t *testing.T) {
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
	for _, n := range []string{"1001", "1002"} {
		if _, err := tenancy.CreateExtension(ctx, db, tenancy.Realm(tn), store.Extension{TenantID: tn.ID, Number: n}, "secret-"+n); err != nil {
			t.Fatal(err)
		}
	}
	lo, hi, _ := configRange(privoxtest.RTPRange(40))
	relay, err := media.NewRelay(media.Config{PortMin: lo, PortMax: hi, BindIP: netip.MustParseAddr("127.0.0.1"), MediaTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	srv, err := sip.New(sip.Config{Addr: "127.0.0.1:0", Node: "test"}, sip.Deps{DB: db, Relay: relay, Logger: slog.New(slog.DiscardHandler), Secrets: vault})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	e := &env{t: t, direct: srv}

	uas := e.newPeer("udp")
	callee := e.sippUAS("callee", "uas.xml", uas)
	e.register("1002", "secret-1002", uas)
	// the caller sends no RTP and waits for Privox's BYE
	e.sippUAC("caller", "uac_wait_bye.xml", "udp", "-key", "session_expires", "1800").wait(t)
	callee.wait(t)
	waitFor(t, "the call to end", func() bool { return srv.ActiveCalls() == 0 })
	var cdrs []store.CDR
	waitFor(t, "CDR", func() bool {
		cdrs, _ = db.ListCDRs(ctx, tn.ID, 0, store.Page{Limit: 10})
		return len(cdrs) == 1
	})
	if cdrs[0].HangupBy != "system:media-timeout" || cdrs[0].Cause != 200 {
		t.Errorf("CDR hangup_by %q cause %d", cdrs[0].HangupBy, cdrs[0].Cause)
	}
}

func configRange(s string) (int, int, error) {
	var lo, hi int
	for i := 0; i < len(s); i++ {
		if s[i] == '-' {
			var err error
			if lo, err = strconv.Atoi(s[:i]); err != nil {
				return 0, 0, err
			}
			hi, err = strconv.Atoi(s[i+1:])
			return lo, hi, err
		}
	}
	return 0, 0, strconv.ErrSyntax
}
