package voicemail_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/privox/privox/internal/audio"
	"github.com/privox/privox/internal/filestore"
	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/store/storetest"
	"github.com/privox/privox/internal/voicemail"
)

type env struct {
	db    *store.DB
	files *filestore.Store
	vault *keys.Vault
	vm    *voicemail.Service
	t     store.Tenant
	u     store.User
	ext   store.Extension
}

func newEnv(t *testing.T, db *store.DB) *env { return newEnvTB(t, db) }

func newEnvTB(t testing.TB, db *store.DB) *env {
	t.Helper()
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "data")
	vault, err := keys.Open(keys.DefaultDir(data))
	if err != nil {
		t.Fatal(err)
	}
	db.SetSecretSealer(vault)
	files, err := filestore.New(filepath.Join(data, "files"), db, vault)
	if err != nil {
		t.Fatal(err)
	}
	tn, err := db.CreateTenant(ctx, store.Tenant{Name: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := db.CreateUser(ctx, store.User{TenantID: tn.ID, Name: "Alice", Email: "alice@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	ext, err := db.CreateExtension(ctx, store.Extension{TenantID: tn.ID, UserID: &u.ID, Number: "1001"}, store.SIPSecret{Realm: "acme", HA1MD5: "x", HA1SHA256: "y"})
	if err != nil {
		t.Fatal(err)
	}
	return &env{db: db, files: files, vault: vault, vm: voicemail.New(db, files, nil, nil, voicemail.Options{}), t: tn, u: u, ext: ext}
}

func tone(d time.Duration) []int16 {
	pcm := make([]int16, audio.Samples(d))
	for i := range pcm {
		pcm[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	return pcm
}

// A box is created with its extension, with the defaults of SPEC §2.
func TestBoxCreatedWithExtension(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		b, err := e.vm.Box(context.Background(), e.t.ID, "1001")
		if err != nil {
			t.Fatal(err)
		}
		if b.ExtensionID != e.ext.ID || b.RetentionDays != voicemail.DefaultRetentionDays || b.UserID == nil || *b.UserID != e.u.ID || b.Number != "1001" {
			t.Fatalf("box %+v", b)
		}
		if _, err := e.vm.Box(context.Background(), e.t.ID, "1999"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("box of no extension: %v", err)
		}
		// The box follows its extension to another user.
		bob, err := db.CreateUser(context.Background(), store.User{TenantID: e.t.ID, Name: "Bob", Email: "bob@acme.test"})
		if err != nil {
			t.Fatal(err)
		}
		x := e.ext
		x.UserID = &bob.ID
		if err := db.UpdateExtension(context.Background(), x); err != nil {
			t.Fatal(err)
		}
		if b2, err := e.vm.Box(context.Background(), e.t.ID, "1001"); err != nil || b2.ID != b.ID || b2.UserID == nil || *b2.UserID != bob.ID {
			t.Fatalf("box after the extension moved to bob: %+v %v", b2, err)
		}
		// Unanswered calls go to the box once it is enabled; *1001 reaches it always.
		ctx := context.Background()
		if _, ok, err := e.vm.Divert(ctx, e.t.ID, "1001", 480); ok || err != nil {
			t.Fatalf("disabled box takes a call: %v %v", ok, err)
		}
		on := true
		if _, err := e.vm.Configure(ctx, voicemail.Actor{Name: "cli"}, b, voicemail.Settings{Enabled: &on}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			status int
			ok     bool
			arg    string
		}{{480, true, "deposit:unavailable:1001"}, {408, true, "deposit:unavailable:1001"}, {486, true, "deposit:busy:1001"}, {487, false, ""}, {500, false, ""}} {
			rt, ok, err := e.vm.Divert(ctx, e.t.ID, "1001", c.status)
			if err != nil || ok != c.ok || rt.Arg != c.arg || ok && rt.App != voicemail.AppName {
				t.Errorf("divert %d: %+v %v %v", c.status, rt, ok, err)
			}
		}
		if _, ok, _ := e.vm.Divert(ctx, e.t.ID, "1999", 480); ok {
			t.Error("a call to no extension diverted")
		}
		if rt, ok, err := e.vm.Mailbox(ctx, e.t.ID, "*1001"); !ok || err != nil || rt.Arg != "deposit:unavailable:1001" {
			t.Errorf("*1001: %+v %v %v", rt, ok, err)
		}
		if rt, ok, err := e.vm.Mailbox(ctx, e.t.ID, voicemail.FeatureCode); !ok || err != nil || rt.Arg != "retrieve" {
			t.Errorf("%s: %+v %v %v", voicemail.FeatureCode, rt, ok, err)
		}
		for _, n := range []string{"1001", "*", "*1999"} {
			if _, ok, _ := e.vm.Mailbox(ctx, e.t.ID, n); ok {
				t.Errorf("%q reaches a mailbox", n)
			}
		}
	})
}

// Wrong PINs are counted and audited; the fifth locks the box, and even the right PIN is then
// refused until the lock ends; a PIN reset unlocks.
func TestPINLockOut(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		b, _ := e.vm.Box(ctx, e.t.ID, "1001")
		who := voicemail.Actor{Name: "phone"}
		if err := e.vm.CheckPIN(ctx, who, b, "1234"); !errors.Is(err, voicemail.ErrNoPIN) {
			t.Fatalf("no PIN: %v", err)
		}
		for _, bad := range []string{"123", "12a45", "12345678901234567"} {
			var fe *voicemail.FieldError
			if err := e.vm.SetPIN(ctx, who, b, bad); !errors.As(err, &fe) || fe.Field != "pin" {
				t.Fatalf("PIN %q: %v", bad, err)
			}
		}
		if err := e.vm.SetPIN(ctx, voicemail.Actor{Name: "cli"}, b, "4711"); err != nil {
			t.Fatal(err)
		}
		if err := e.vm.CheckPIN(ctx, who, b, "4711"); err != nil {
			t.Fatalf("right PIN: %v", err)
		}
		for i := 1; i < voicemail.MaxPINFailures; i++ {
			if err := e.vm.CheckPIN(ctx, who, b, "0000"); !errors.Is(err, voicemail.ErrWrongPIN) {
				t.Fatalf("wrong PIN %d: %v", i, err)
			}
		}
		if err := e.vm.CheckPIN(ctx, who, b, "0000"); !errors.Is(err, voicemail.ErrLocked) {
			t.Fatalf("last wrong PIN: %v", err)
		}
		if err := e.vm.CheckPIN(ctx, who, b, "4711"); !errors.Is(err, voicemail.ErrLocked) {
			t.Fatalf("right PIN while locked: %v", err)
		}
		e.vm.Now = func() time.Time { return time.Now().Add(voicemail.LockFor + time.Minute) }
		if err := e.vm.CheckPIN(ctx, who, b, "4711"); err != nil {
			t.Fatalf("right PIN after the lock: %v", err)
		}
		e.vm.Now = time.Now
		audit, err := db.ListAudit(ctx, e.t.ID, store.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		counts := map[string]int{}
		for _, a := range audit {
			counts[a.Action]++
			if bytes.Contains([]byte(a.Detail), []byte("4711")) {
				t.Fatalf("PIN in the audit log: %+v", a)
			}
		}
		if counts["voicemail.pin_failed"] != voicemail.MaxPINFailures-1 || counts["voicemail.locked"] != 1 || counts["voicemail.pin_set"] != 1 {
			t.Fatalf("audit %v", counts)
		}
	})
}

// A stored message is an encrypted WAV with its row; a retention change moves its expiry;
// deletion takes file and row; a full box refuses further messages and leaves nothing.
func TestStoreMessage(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		b, _ := e.vm.Box(ctx, e.t.ID, "1001")
		at := time.Now().Add(-time.Hour)
		m, err := e.vm.Store(ctx, b, voicemail.Deposit{CallerNumber: "1002", CallerName: "Bob", At: at, PCM: tone(3 * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		if m.DurationMS != 3000 || m.ExpiresAt != at.UnixMilli()+90*24*3600*1000 || m.UserID == nil || *m.UserID != e.u.ID {
			t.Fatalf("message %+v", m)
		}
		f, err := db.ContentFile(ctx, e.t.ID, m.FileID)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(e.files.Path(f))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte("RIFF")) || bytes.Contains(raw, []byte("WAVE")) {
			t.Fatal("message stored in clear")
		}
		wav, err := e.vm.Audio(ctx, voicemail.Actor{Name: "cli"}, b, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		w, err := audio.ReadWAV(bytes.NewReader(wav), int64(len(wav)))
		if err != nil || w.Rate != 8000 || w.Channels != 1 || len(w.Data) != 2*24000 {
			t.Fatalf("wav: %v %+v", err, w.Format)
		}
		days := 1
		if _, err := e.vm.Configure(ctx, voicemail.Actor{Name: "cli"}, b, voicemail.Settings{RetentionDays: &days}); err != nil {
			t.Fatal(err)
		}
		m2, _ := e.vm.Message(ctx, b, m.ID)
		if m2.ExpiresAt != at.UnixMilli()+24*3600*1000 {
			t.Fatalf("expiry after retention change: %d", m2.ExpiresAt-at.UnixMilli())
		}
		bad := 0
		var fe *voicemail.FieldError
		if _, err := e.vm.Configure(ctx, voicemail.Actor{Name: "cli"}, b, voicemail.Settings{RetentionDays: &bad}); !errors.As(err, &fe) || fe.Field != "retention_days" {
			t.Fatalf("retention 0: %v", err)
		}
		if _, err := e.vm.MarkRead(ctx, b, m.ID, true); err != nil {
			t.Fatal(err)
		}
		if s, _ := e.vm.Summary(ctx, b); s.Total != 1 || s.Unread != 0 {
			t.Fatalf("summary %+v", s)
		}
		one := 1
		b, err = e.vm.Configure(ctx, voicemail.Actor{Name: "cli"}, b, voicemail.Settings{MaxMessages: &one})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.vm.Store(ctx, b, voicemail.Deposit{At: time.Now(), PCM: tone(time.Second)}); !errors.Is(err, voicemail.ErrBoxFull) {
			t.Fatalf("full box: %v", err)
		}
		all, _ := db.AllContentFiles(ctx, store.Page{Limit: 100})
		if len(all) != 1 {
			t.Fatalf("files after the refused message: %d", len(all))
		}
		if err := e.vm.Delete(ctx, voicemail.Actor{Name: "cli"}, b, m.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.vm.Message(ctx, b, m.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("message after delete: %v", err)
		}
		if _, err := os.Stat(e.files.Path(f)); !os.IsNotExist(err) {
			t.Fatalf("file after delete: %v", err)
		}
	})
}

// An uploaded greeting replaces the slot's earlier one, whose file goes.
func TestGreeting(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		b, _ := e.vm.Box(ctx, e.t.ID, "1001")
		wav := func(d time.Duration) *bytes.Reader {
			pcm := tone(d)
			raw := make([]byte, 2*len(pcm))
			for i, x := range pcm {
				raw[2*i], raw[2*i+1] = byte(x), byte(uint16(x)>>8)
			}
			out, _ := audio.EncodeWAV(audio.Format{Encoding: audio.LinearPCM16, Rate: 8000, Channels: 1}, raw)
			return bytes.NewReader(out)
		}
		g1, err := e.vm.PutGreeting(ctx, voicemail.Actor{Name: "cli"}, b, voicemail.SlotUnavailable, wav(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		g2, err := e.vm.PutGreeting(ctx, voicemail.Actor{Name: "cli"}, b, voicemail.SlotUnavailable, wav(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if g2.DurationMS != 2000 {
			t.Fatalf("greeting %+v", g2)
		}
		if _, err := db.ContentFile(ctx, e.t.ID, g1.FileID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("earlier greeting's file: %v", err)
		}
		var fe *voicemail.FieldError
		if _, err := e.vm.PutGreeting(ctx, voicemail.Actor{Name: "cli"}, b, "party", wav(time.Second)); !errors.As(err, &fe) || fe.Field != "slot" {
			t.Fatalf("bad slot: %v", err)
		}
		if _, err := e.vm.PutGreeting(ctx, voicemail.Actor{Name: "cli"}, b, voicemail.SlotBusy, bytes.NewReader([]byte("not audio"))); !errors.As(err, &fe) || fe.Field != "body" {
			t.Fatalf("bad body: %v", err)
		}
	})
}

// Deleting an extension takes its box and messages; their files are marked for deletion and
// the next recovery removes them.
func TestDeleteExtensionDropsMessages(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		b, _ := e.vm.Box(ctx, e.t.ID, "1001")
		m, err := e.vm.Store(ctx, b, voicemail.Deposit{At: time.Now(), PCM: tone(time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		f, _ := db.ContentFile(ctx, e.t.ID, m.FileID)
		if err := db.DeleteExtension(ctx, e.t.ID, e.ext.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.VoicemailMessage(ctx, e.t.ID, m.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("message of a deleted extension: %v", err)
		}
		if _, err := e.files.Recover(ctx, true); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ContentFile(ctx, e.t.ID, m.FileID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("file row of a deleted extension's message: %v", err)
		}
		if _, err := os.Stat(e.files.Path(f)); !os.IsNotExist(err) {
			t.Fatalf("file of a deleted extension's message: %v", err)
		}
	})
}
