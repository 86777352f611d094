package voicemail_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/privox/privox/internal/audio"
	"github.com/privox/privox/internal/flows"
	"github.com/privox/privox/internal/mail"
	"github.com/privox/privox/internal/mail/mailtest"
	"github.com/privox/privox/internal/privacy"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/store/storetest"
	"github.com/privox/privox/internal/voicemail"
)

// mailEnv is a voicemail engine whose mailer sends through a real SMTP server on loopback,
// with the flow registry and the privacy engine Privox wires, and a clock the test moves.
type mailEnv struct {
	*env
	srv    *mailtest.Server
	relay  mail.Relay
	flows  *flows.Registry
	priv   *privacy.Engine
	mailer *voicemail.Mailer
	now    time.Time
	box    store.VoicemailBox
}

func newMailEnv(t *testing.T, db *store.DB, srv *mailtest.Server, mode string, set voicemail.Settings) *mailEnv {
	t.Helper()
	e := &mailEnv{env: newEnv(t, db), srv: srv, flows: flows.NewRegistry(), now: time.Now()}
	e.vm.Now = func() time.Time { return e.now }
	e.priv = privacy.New(privacy.Deps{DB: db, Files: e.files, Vault: e.vault, Flows: e.flows}, privacy.Options{})
	e.relay = mail.Relay{Host: srv.Host, Port: srv.Port, Mode: mode, CAPEM: srv.CAPEM, From: "voicemail@pbx.test", Timeout: 10 * time.Second}
	e.flows.SetEnabled(mail.FlowName, true)
	e.flows.SetDestination(mail.FlowName, e.relay.Destination())
	e.mailer = e.useMail(e.vm)
	ctx := context.Background()
	b, err := e.vm.Box(ctx, e.t.ID, "1001")
	if err != nil {
		t.Fatal(err)
	}
	if e.box, err = e.vm.Configure(ctx, voicemail.Actor{Name: "test"}, b, set); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *mailEnv) useMail(vm *voicemail.Service) *voicemail.Mailer {
	return vm.UseMail(voicemail.MailOptions{
		FlowOn: func() bool { return e.flows.Enabled(mail.FlowName) },
		Relay: func(ctx context.Context, tenantID int64) (mail.Relay, bool, error) {
			return e.relay, true, nil
		},
		Dial: e.flows.Dialer(mail.FlowName),
		Check: func(ctx context.Context, tenantID, userID int64) error {
			return e.priv.CheckProcessing(ctx, tenantID, userID, privacy.PurposeEmailCopy)
		},
		IsRefusal: func(err error) bool { return errors.Is(err, privacy.ErrRestricted) },
		Attempts:  3, First: time.Minute, Max: 10 * time.Minute,
	})
}

func (e *mailEnv) deposit(t *testing.T, d time.Duration) store.VoicemailMessage {
	t.Helper()
	m, err := e.vm.Store(context.Background(), e.box, voicemail.Deposit{CallerNumber: "+4930123456", CallerName: "Bob Caller", At: e.now, PCM: tone(d)})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (e *mailEnv) deliveries(t *testing.T) []store.VoicemailMail {
	t.Helper()
	ds, err := e.db.VoicemailMails(context.Background(), e.t.ID, "", store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func (e *mailEnv) audited(t *testing.T, action string) bool {
	t.Helper()
	es, err := e.db.ListAudit(context.Background(), e.t.ID, store.Page{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range es {
		if en.Action == action {
			if strings.Contains(en.Detail, "@") {
				t.Errorf("audit entry %s names an address: %q", action, en.Detail)
			}
			return true
		}
	}
	return false
}

func on() *bool  { v := true; return &v }
func off() *bool { v := false; return &v }

// A deposited message arrives over STARTTLS at a real SMTP server, addressed to the box
// owner, with the WAV attached that decodes to the stored audio; the delivery is recorded.
func TestMailDeliveredWithWAV(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		srv := mailtest.Start(t, mailtest.Options{Mode: "starttls"})
		e := newMailEnv(t, db, srv, mail.ModeSTARTTLS, voicemail.Settings{EmailCopy: on()})
		ctx := context.Background()
		m := e.deposit(t, 2*time.Second)
		if ds := e.deliveries(t); len(ds) != 1 || ds[0].State != store.MailPending || ds[0].MessageID != m.ID {
			t.Fatalf("deliveries after the deposit: %+v", ds)
		}
		if n := e.mailer.Round(ctx); n != 1 {
			t.Fatalf("round sent %d", n)
		}
		msgs := srv.Wait(1, 10*time.Second)
		if len(msgs) != 1 || !msgs[0].TLS || len(msgs[0].To) != 1 || msgs[0].To[0] != "alice@acme.test" {
			t.Fatalf("received %+v", msgs)
		}
		p, err := mailtest.Parse(msgs[0].Data)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(p.Subject, "New voice message from Bob Caller") || !strings.Contains(p.Text, "+4930123456") || len(p.Attachments) != 1 {
			t.Fatalf("mail: subject %q text %q attachments %d", p.Subject, p.Text, len(p.Attachments))
		}
		stored, err := e.vm.Audio(ctx, voicemail.Actor{Name: "test"}, e.box, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		att := p.Attachments[0]
		if !bytes.Equal(att.Data, stored) || !strings.HasPrefix(att.Type, "audio/wav") || !strings.HasSuffix(att.Name, ".wav") {
			t.Fatalf("attachment %s %s of %d bytes, stored %d bytes", att.Name, att.Type, len(att.Data), len(stored))
		}
		w, err := audio.ReadWAV(bytes.NewReader(att.Data), int64(len(att.Data)))
		if err != nil || w.Rate != 8000 || len(w.Data) != 2*audio.Samples(2*time.Second) {
			t.Fatalf("attached wav: %v", err)
		}
		want := tone(2 * time.Second)
		for i := range want {
			if got := int16(uint16(w.Data[2*i]) | uint16(w.Data[2*i+1])<<8); got != want[i] {
				t.Fatalf("sample %d: %d, deposited %d", i, got, want[i])
			}
		}
		if ds := e.deliveries(t); ds[0].State != store.MailSent || ds[0].Attempts != 0 {
			t.Fatalf("delivery after sending: %+v", ds[0])
		}
		if !e.audited(t, "voicemail.mail.sent") {
			t.Error("the delivery is not audited")
		}
		if _, err := e.vm.Message(ctx, e.box, m.ID); err != nil {
			t.Fatalf("the message left the box without delete-after-delivery: %v", err)
		}
		// Nothing more is due.
		if n := e.mailer.Round(ctx); n != 0 {
			t.Fatalf("a second round sent %d", n)
		}
	})
}

// Notification-only mode, in German: no audio leaves the machine; implicit TLS.
func TestMailNotificationOnlyGerman(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		srv := mailtest.Start(t, mailtest.Options{Mode: "tls"})
		e := newMailEnv(t, db, srv, mail.ModeTLS, voicemail.Settings{EmailCopy: on(), EmailAttach: off()})
		ctx := context.Background()
		u := e.u
		u.Language = "de"
		if err := db.UpdateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		e.deposit(t, time.Second)
		e.mailer.Round(ctx)
		msgs := srv.Wait(1, 10*time.Second)
		if len(msgs) != 1 || !msgs[0].TLS {
			t.Fatalf("received %+v", msgs)
		}
		p, err := mailtest.Parse(msgs[0].Data)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Attachments) != 0 || bytes.Contains(msgs[0].Data, []byte("RIFF")) || bytes.Contains(msgs[0].Data, []byte("UklGR")) {
			t.Fatal("notification-only mail carries audio")
		}
		if !strings.Contains(p.Subject, "Neue Sprachnachricht von Bob Caller") || !strings.Contains(p.Text, "Dauer: 1 s") {
			t.Fatalf("german mail: %q %q", p.Subject, p.Text)
		}
	})
}

// Delete after delivery: once the relay took the e-mail, the message leaves the box, file and
// row together; a relay that answers 4xx is tried again first.
func TestMailDeleteAfterDelivery(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		srv := mailtest.Start(t, mailtest.Options{Mode: "starttls", Username: "pbx", Password: "relay-pass"})
		e := newMailEnv(t, db, srv, mail.ModeSTARTTLS, voicemail.Settings{EmailCopy: on(), EmailDelete: on()})
		e.relay.Username, e.relay.Password = "pbx", "relay-pass"
		ctx := context.Background()
		m := e.deposit(t, time.Second)
		srv.FailNext(1)
		e.mailer.Round(ctx)
		if ds := e.deliveries(t); ds[0].State != store.MailPending || ds[0].Attempts != 1 || !strings.Contains(ds[0].LastError, "451") {
			t.Fatalf("after a 451: %+v", ds[0])
		}
		if _, err := e.vm.Message(ctx, e.box, m.ID); err != nil {
			t.Fatalf("message gone after a failed attempt: %v", err)
		}
		if n := e.mailer.Round(ctx); n != 0 {
			t.Fatal("retried before its back-off")
		}
		e.now = e.now.Add(e.mailer.Backoff(1))
		e.mailer.Round(ctx)
		if len(srv.Wait(1, 10*time.Second)) != 1 {
			t.Fatal("not delivered on retry")
		}
		if ds := e.deliveries(t); ds[0].State != store.MailSent {
			t.Fatalf("after the retry: %+v", ds[0])
		}
		if _, err := e.vm.Message(ctx, e.box, m.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("message kept after delivery with delete on: %v", err)
		}
		if _, err := db.ContentFile(ctx, e.t.ID, m.FileID); err == nil {
			if f, _ := db.ContentFile(ctx, e.t.ID, m.FileID); f.State == store.FileReady {
				t.Fatal("the message's file is still there")
			}
		}
	})
}

// A relay that is down: retries with back-off, then the delivery is failed; the audio stays.
func TestMailRelayDownFails(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		srv := mailtest.Start(t, mailtest.Options{Mode: "starttls"})
		e := newMailEnv(t, db, srv, mail.ModeSTARTTLS, voicemail.Settings{EmailCopy: on(), EmailDelete: on()})
		// A port nothing listens on any more.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		e.relay.Port = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		ctx := context.Background()
		m := e.deposit(t, time.Second)
		for i := 1; i <= 3; i++ {
			if n := e.mailer.Round(ctx); n != 1 {
				t.Fatalf("attempt %d: round did %d", i, n)
			}
			ds := e.deliveries(t)
			if ds[0].Attempts != i || ds[0].LastError == "" {
				t.Fatalf("attempt %d: %+v", i, ds[0])
			}
			if i < 3 {
				if ds[0].State != store.MailPending || ds[0].NextAt != e.now.Add(e.mailer.Backoff(i)).UnixMilli() {
					t.Fatalf("attempt %d: %+v", i, ds[0])
				}
				e.now = e.now.Add(e.mailer.Backoff(i))
			}
		}
		ds := e.deliveries(t)
		if ds[0].State != store.MailFailed {
			t.Fatalf("after the last retry: %+v", ds[0])
		}
		if e.mailer.Backoff(1) != time.Minute || e.mailer.Backoff(2) != 2*time.Minute || e.mailer.Backoff(9) != 10*time.Minute {
			t.Fatal("back-off is not exponential up to its maximum")
		}
		failed, _ := db.VoicemailMails(ctx, e.t.ID, store.MailFailed, store.Page{})
		if len(failed) != 1 || !e.audited(t, "voicemail.mail.failed") {
			t.Fatalf("failed deliveries %+v", failed)
		}
		if _, err := e.vm.Audio(ctx, voicemail.Actor{Name: "test"}, e.box, m.ID); err != nil {
			t.Fatalf("the audio of a failed delivery is gone: %v", err)
		}
		if n := e.mailer.Round(ctx); n != 0 || len(srv.Messages()) != 0 {
			t.Fatal("a failed delivery is tried again")
		}
	})
}

// A relay whose certificate comes from a CA Privox does not trust gets nothing.
func TestMailUnknownCARefused(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		srv := mailtest.Start(t, mailtest.Options{Mode: "starttls", ForeignCA: true})
		e := newMailEnv(t, db, srv, mail.ModeSTARTTLS, voicemail.Settings{EmailCopy: on()})
		ctx := context.Background()
		e.deposit(t, time.Second)
		for i := 0; i < 3; i++ {
			e.mailer.Round(ctx)
			e.now = e.now.Add(time.Hour)
		}
		ds := e.deliveries(t)
		if ds[0].State != store.MailFailed || !strings.Contains(ds[0].LastError, "certificate") {
			t.Fatalf("delivery to an impostor: %+v", ds[0])
		}
		if len(srv.Messages()) != 0 {
			t.Fatal("the impostor received the message")
		}
	})
}

// While the owner's processing is restricted, or the owner objected to e-mail copies,
// nothing is sent and the delivery says why (audited); with the flow off nothing is queued.
func TestMailRestrictionObjectionAndFlowOff(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		srv := mailtest.Start(t, mailtest.Options{Mode: "starttls"})
		e := newMailEnv(t, db, srv, mail.ModeSTARTTLS, voicemail.Settings{EmailCopy: on()})
		ctx := context.Background()
		if _, err := e.priv.Restrict(ctx, e.t.ID, e.u.ID, "accuracy contested", privacy.System); err != nil {
			t.Fatal(err)
		}
		e.deposit(t, time.Second)
		e.mailer.Round(ctx)
		ds := e.deliveries(t)
		if ds[0].State != store.MailSuppressed || !strings.Contains(ds[0].Reason, "restricted") || strings.Contains(ds[0].Reason, "accuracy") {
			t.Fatalf("restricted: %+v", ds[0])
		}
		if !e.audited(t, "voicemail.mail.suppressed") {
			t.Error("suppression not audited")
		}
		if err := e.priv.Unrestrict(ctx, e.t.ID, e.u.ID, privacy.System); err != nil {
			t.Fatal(err)
		}
		if err := db.SetMailObjection(ctx, e.t.ID, e.u.ID, true); err != nil {
			t.Fatal(err)
		}
		e.deposit(t, time.Second)
		e.mailer.Round(ctx)
		ds = e.deliveries(t)
		if ds[1].State != store.MailSuppressed || !strings.Contains(ds[1].Reason, "objected") {
			t.Fatalf("objection: %+v", ds[1])
		}
		if err := db.SetMailObjection(ctx, e.t.ID, e.u.ID, false); err != nil {
			t.Fatal(err)
		}
		// The flow switched off: a new message queues nothing and nothing is sent.
		e.flows.SetEnabled(mail.FlowName, false)
		e.deposit(t, time.Second)
		e.mailer.Round(ctx)
		if ds := e.deliveries(t); len(ds) != 2 {
			t.Fatalf("queued with the flow off: %+v", ds)
		}
		if n := len(srv.Messages()); n != 0 {
			t.Fatalf("%d mails sent", n)
		}
	})
}

// A pending delivery survives a restart: a new engine on the same store sends it.
func TestMailQueueSurvivesRestart(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		srv := mailtest.Start(t, mailtest.Options{Mode: "starttls"})
		e := newMailEnv(t, db, srv, mail.ModeSTARTTLS, voicemail.Settings{EmailCopy: on()})
		e.deposit(t, time.Second)
		// The first process ends before its mailer ran; the next one starts.
		vm2 := voicemail.New(db, e.files, nil, nil, voicemail.Options{})
		vm2.Now = e.vm.Now
		m2 := e.useMail(vm2)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { m2.Run(ctx); close(done) }()
		if len(srv.Wait(1, 10*time.Second)) != 1 {
			t.Error("the queued delivery was not sent after the restart")
		}
		cancel()
		<-done
	})
}
