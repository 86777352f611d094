package privacy_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/privox/privox/internal/privacy"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/voicemail"
)

// voicemailPath is the API path of the voicemail box of a user's extension.
func (o *org) voicemailPath(t *testing.T, uid int64) string {
	t.Helper()
	var ext int64
	if err := o.p.App.DB.QueryRow(context.Background(), `SELECT id FROM extensions WHERE user_id = ?`, uid).Scan(&ext); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s/extensions/%d/voicemail", o.prefix, ext)
}

// TestVoicemailBoxRetention: with a box retention of one day, a message of two days is gone
// after a sweep, file and row together, and yesterday's of a box with the default 90 days
// stays; lengthening the box's retention keeps a message the next sweep would have taken.
func TestVoicemailBoxRetention(t *testing.T) {
	runEngines(t, privacy.Options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		tn := e.tenant(t, "acme", "default")
		u := e.user(t, tn.ID, "u@acme.test")
		vm := voicemail.New(e.db, e.files, nil, nil, voicemail.Options{})
		box := func(number string) store.VoicemailBox {
			x, err := e.db.CreateExtension(ctx, store.Extension{TenantID: tn.ID, UserID: &u.ID, Number: number}, store.SIPSecret{Realm: "r"})
			if err != nil {
				t.Fatal(err)
			}
			b, err := e.db.EnsureVoicemailBox(ctx, tn.ID, x.ID)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		short, long := box("1001"), box("1002")
		one := 1
		short, err := vm.Configure(ctx, voicemail.Actor{Name: "cli"}, short, voicemail.Settings{RetentionDays: &one})
		if err != nil {
			t.Fatal(err)
		}
		put := func(b store.VoicemailBox, days float64) store.VoicemailMessage {
			m, err := vm.Store(ctx, b, voicemail.Deposit{CallerNumber: "+4930123", At: time.UnixMilli(ago(days)), PCM: make([]int16, 8000)})
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		old := put(short, 2)
		fresh := put(short, 0.5)
		kept := put(long, 2)
		oldFile, err := e.db.ContentFile(ctx, tn.ID, old.FileID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.eng.Sweep(ctx, privacy.SweepOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := vm.Message(ctx, short, old.ID); err == nil {
			t.Error("a message past its box's retention survived the sweep")
		}
		if _, err := e.db.ContentFile(ctx, tn.ID, old.FileID); err == nil {
			t.Error("the swept message's file row survived")
		}
		if _, err := os.Stat(e.files.Path(oldFile)); !os.IsNotExist(err) {
			t.Errorf("the swept message's file survived: %v", err)
		}
		for _, m := range []struct {
			b store.VoicemailBox
			m store.VoicemailMessage
		}{{short, fresh}, {long, kept}} {
			if _, err := vm.Message(ctx, m.b, m.m.ID); err != nil {
				t.Errorf("message %d within its box's retention: %v", m.m.ID, err)
			}
			if _, err := vm.Audio(ctx, voicemail.Actor{Name: "cli"}, m.b, m.m.ID); err != nil {
				t.Errorf("message %d unreadable after the sweep: %v", m.m.ID, err)
			}
		}
	})
}
