package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/privox/privox/internal/api"
	"github.com/privox/privox/internal/config"
	"github.com/privox/privox/internal/mail/mailtest"
	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/voicemail"
)

// syncBuffer collects log lines from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type mailOrg struct {
	p      *privoxtest.Privox
	tid    int64
	admin  string
	uid    int64
	member string
	box    string
}

// newMailOrg starts Privox with the installation relay set by relay, and makes a tenant
// whose user owns extension 1001 with e-mail copies on.
func newMailOrg(t *testing.T, relay func(c *config.Mail), logs *syncBuffer) *mailOrg {
	t.Helper()
	p := privoxtest.Start(t, privoxtest.Options{LogCopy: logs, Configure: func(c *config.Config) {
		c.Mail.Retry = config.MailRetry{Attempts: 2, First: time.Second, Max: time.Second}
		relay(&c.Mail)
	}})
	o := &mailOrg{p: p}
	var tn created
	p.MustDo(201, "POST", "/api/v1/tenants", p.AdminToken, map[string]any{"name": "acme"}, &tn)
	o.tid = tn.ID
	mk := func(email, role string) (int64, string) {
		var u created
		p.MustDo(201, "POST", fmt.Sprintf("/api/v1/tenants/%d/users", o.tid), p.AdminToken, map[string]any{"name": "U " + email, "email": email, "role": role}, &u)
		var tok struct{ Token string }
		p.MustDo(201, "POST", fmt.Sprintf("/api/v1/tenants/%d/tokens", o.tid), p.AdminToken, map[string]any{"name": "t", "user_id": u.ID}, &tok)
		return u.ID, tok.Token
	}
	_, o.admin = mk("admin@acme.test", "admin")
	o.uid, o.member = mk("alice@acme.test", "user")
	var e created
	p.MustDo(201, "POST", fmt.Sprintf("/api/v1/tenants/%d/extensions", o.tid), o.admin, map[string]any{"number": "1001", "sip_password": "alice-sip-secret", "user_id": o.uid}, &e)
	o.box = fmt.Sprintf("/api/v1/tenants/%d/extensions/%d/voicemail", o.tid, e.ID)
	p.MustDo(200, "PATCH", o.box, o.admin, map[string]any{"enabled": true, "email_copy": true}, nil)
	return o
}

func (o *mailOrg) deposit(t *testing.T) store.VoicemailMessage {
	t.Helper()
	b, err := o.p.App.Voicemail.Box(context.Background(), o.tid, "1001")
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, 8000)
	for i := range pcm {
		pcm[i] = int16((i % 40) * 500)
	}
	m, err := o.p.App.Voicemail.Store(context.Background(), b, voicemail.Deposit{CallerNumber: "+4930999888", At: time.Now(), PCM: pcm})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (o *mailOrg) deliveries(t *testing.T, state string) []store.VoicemailMail {
	t.Helper()
	var l api.List[store.VoicemailMail]
	o.p.MustDo(200, "GET", fmt.Sprintf("/api/v1/tenants/%d/voicemail/deliveries?state=%s", o.tid, state), o.admin, nil, &l)
	return l.Items
}

func writeCA(t *testing.T, pem []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(f, pem, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// The installation relay from the configuration: the flow is on, a deposited message arrives
// over STARTTLS with its WAV, and the generated documents describe the flow.
func TestVoicemailMailThroughConfiguredRelay(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{Mode: "starttls", Username: "pbx", Password: "relay-secret-42"})
	logs := &syncBuffer{}
	o := newMailOrg(t, func(c *config.Mail) {
		*c = config.Mail{Enabled: true, Host: srv.Host, Port: srv.Port, Mode: "starttls", Username: "pbx", Password: "relay-secret-42",
			CAFile: writeCA(t, srv.CAPEM), From: "voicemail@pbx.test", Retry: c.Retry}
	}, logs)
	var fl []struct {
		Name    string
		Enabled bool
	}
	o.p.MustDo(200, "GET", "/api/v1/flows", o.p.AdminToken, nil, &fl)
	for _, f := range fl {
		if f.Name == "smtp_relay" && !f.Enabled {
			t.Fatal("the smtp_relay flow is off with a configured relay")
		}
	}
	m := o.deposit(t)
	msgs := srv.Wait(1, 20*time.Second)
	if len(msgs) != 1 || !msgs[0].TLS {
		t.Fatalf("received %d messages", len(msgs))
	}
	p, err := mailtest.Parse(msgs[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	st, wav := o.p.Do("GET", fmt.Sprintf("%s/messages/%d/audio", o.box, m.ID), o.member, nil)
	if st != 200 || len(p.Attachments) != 1 || !bytes.Equal(p.Attachments[0].Data, wav) {
		t.Fatalf("attachment does not match the stored message (%d)", st)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(o.deliveries(t, "sent")) != 1 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if len(o.deliveries(t, "sent")) != 1 {
		t.Fatal("delivery not recorded as sent")
	}
	st, notice := o.p.Do("GET", fmt.Sprintf("/api/v1/tenants/%d/docs/privacy-notice?lang=en", o.tid), o.member, nil)
	if st != 200 || !strings.Contains(string(notice), "e-mail copies switched on") || strings.Contains(string(notice), "plaintext_for_local_testing") {
		t.Fatalf("privacy notice: %d %s", st, notice)
	}
	st, records := o.p.Do("GET", fmt.Sprintf("/api/v1/tenants/%d/docs/records", o.tid), o.admin, nil)
	if st != 200 || !strings.Contains(string(records), "smtp_relay") || !strings.Contains(string(records), "voicemail_mail") {
		t.Fatalf("records: %d", st)
	}
	// The objection, set by the person: the next message is not sent.
	o.p.MustDo(200, "PUT", fmt.Sprintf("/api/v1/tenants/%d/users/%d/objections/email-copy", o.tid, o.uid), o.member, map[string]any{"objected": true}, nil)
	var ob struct{ Objected bool }
	o.p.MustDo(200, "GET", fmt.Sprintf("/api/v1/tenants/%d/users/%d/objections/email-copy", o.tid, o.uid), o.admin, nil, &ob)
	if !ob.Objected {
		t.Fatal("objection not stored")
	}
	o.deposit(t)
	deadline = time.Now().Add(10 * time.Second)
	for len(o.deliveries(t, "suppressed")) != 1 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if ds := o.deliveries(t, "suppressed"); len(ds) != 1 || !strings.Contains(ds[0].Reason, "objected") {
		t.Fatalf("suppressed deliveries: %+v", ds)
	}
	if len(srv.Messages()) != 1 {
		t.Fatal("mailed despite the objection")
	}
	for _, secret := range []string{"alice@acme.test", "relay-secret-42"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
}

// A tenant's own relay that is down: retries, then the delivery is failed, visible to the
// admin in the API and the CLI; the audio stays; the relay password is stored sealed only.
func TestVoicemailMailTenantRelayDown(t *testing.T) {
	logs := &syncBuffer{}
	o := newMailOrg(t, func(c *config.Mail) {}, logs)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	relay := fmt.Sprintf("/api/v1/tenants/%d/mail-relay", o.tid)
	if st, body := o.p.Do("PUT", relay, o.admin, map[string]any{"enabled": true, "host": "127.0.0.1", "port": port, "mode": "plaintext"}); st != 400 || !strings.Contains(string(body), "mode") {
		t.Fatalf("plaintext relay accepted: %d %s", st, body)
	}
	if st, _ := o.p.Do("PUT", relay, o.member, map[string]any{"enabled": true, "host": "127.0.0.1"}); st != 403 {
		t.Fatalf("a member set the relay: %d", st)
	}
	var out store.MailRelay
	o.p.MustDo(200, "PUT", relay, o.admin, map[string]any{"enabled": true, "host": "127.0.0.1", "port": port, "mode": "starttls", "username": "acme", "password": "tenant-relay-pw"}, &out)
	if !out.HasPassword || out.Port != port {
		t.Fatalf("relay %+v", out)
	}
	raw, _ := json.Marshal(out)
	var sealed string
	if err := o.p.App.DB.QueryRow(context.Background(), `SELECT secret_sealed FROM mail_relays WHERE tenant_id = ?`, o.tid).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "tenant-relay-pw") || strings.Contains(sealed, "tenant-relay-pw") || !strings.HasPrefix(sealed, "pvx-sealed-v1:") {
		t.Fatal("the relay password is readable")
	}
	m := o.deposit(t)
	deadline := time.Now().Add(30 * time.Second)
	for len(o.deliveries(t, "failed")) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	ds := o.deliveries(t, "failed")
	if len(ds) != 1 || ds[0].Attempts != 2 || ds[0].MessageID != m.ID || ds[0].LastError == "" {
		t.Fatalf("failed deliveries: %+v", ds)
	}
	if st, _ := o.p.Do("GET", fmt.Sprintf("%s/messages/%d/audio", o.box, m.ID), o.member, nil); st != 200 {
		t.Fatalf("audio of a failed delivery: %d", st)
	}
	stdout, stderr, code := o.p.CLI("voicemail", "deliveries", "--tenant", "acme", "--state", "failed")
	if code != 0 || !strings.Contains(stdout, "failed") || !strings.Contains(stdout, fmt.Sprint(m.ID)) {
		t.Fatalf("cli: %d %s %s", code, stdout, stderr)
	}
	if st, _ := o.p.Do("GET", fmt.Sprintf("/api/v1/tenants/%d/voicemail/deliveries?state=bogus", o.tid), o.admin, nil); st != 400 {
		t.Fatalf("bad state: %d", st)
	}
	if strings.Contains(logs.String(), "alice@acme.test") || strings.Contains(logs.String(), "tenant-relay-pw") {
		t.Error("the log holds an address or the password")
	}
}

// With the local-testing switch, a plaintext relay works, and the documents say so.
func TestVoicemailMailPlaintextNamed(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{Mode: "plaintext"})
	o := newMailOrg(t, func(c *config.Mail) {
		*c = config.Mail{Enabled: true, Host: srv.Host, Port: srv.Port, Mode: "plaintext", PlaintextForLocalTesting: true, Retry: c.Retry}
	}, &syncBuffer{})
	for _, lang := range []string{"en", "de"} {
		st, notice := o.p.Do("GET", fmt.Sprintf("/api/v1/tenants/%d/docs/privacy-notice?lang=%s", o.tid, lang), o.member, nil)
		if st != 200 || !strings.Contains(string(notice), "mail.plaintext_for_local_testing") {
			t.Fatalf("privacy notice (%s) does not name the plaintext switch: %s", lang, notice)
		}
	}
	o.deposit(t)
	if m := srv.Wait(1, 20*time.Second); len(m) != 1 || m[0].TLS {
		t.Fatalf("plaintext delivery: %+v", m)
	}
}

// A failed delivery sent again: only an admin of the tenant may, only a failed one (409
// otherwise), another tenant's or a missing id is 404; the retry is audited, starts the
// attempts from zero and reaches the relay.
func TestVoicemailMailRetry(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{Mode: "starttls"})
	o := newMailOrg(t, func(c *config.Mail) {
		*c = config.Mail{Enabled: true, Host: srv.Host, Port: srv.Port, Mode: "starttls", CAFile: writeCA(t, srv.CAPEM), From: "voicemail@pbx.test", Retry: c.Retry}
	}, &syncBuffer{})
	srv.FailNext(2) // both attempts of the first message
	m := o.deposit(t)
	deadline := time.Now().Add(30 * time.Second)
	for len(o.deliveries(t, "failed")) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	failed := o.deliveries(t, "failed")
	if len(failed) != 1 || failed[0].MessageID != m.ID || failed[0].Attempts != 2 {
		t.Fatalf("failed deliveries: %+v", failed)
	}
	retry := fmt.Sprintf("/api/v1/tenants/%d/voicemail/deliveries/%d/retry", o.tid, failed[0].ID)
	if st, body := o.p.Do("POST", retry, o.member, nil); st != 403 {
		t.Fatalf("a member retried: %d %s", st, body)
	}
	// Another tenant's admin, on its own tenant's path with this delivery's id.
	var other created
	o.p.MustDo(201, "POST", "/api/v1/tenants", o.p.AdminToken, map[string]any{"name": "other"}, &other)
	var ou created
	o.p.MustDo(201, "POST", fmt.Sprintf("/api/v1/tenants/%d/users", other.ID), o.p.AdminToken, map[string]any{"name": "Other Admin", "email": "admin@other.test", "role": "admin"}, &ou)
	var otok struct{ Token string }
	o.p.MustDo(201, "POST", fmt.Sprintf("/api/v1/tenants/%d/tokens", other.ID), o.p.AdminToken, map[string]any{"name": "t", "user_id": ou.ID}, &otok)
	if st, body := o.p.Do("POST", fmt.Sprintf("/api/v1/tenants/%d/voicemail/deliveries/%d/retry", other.ID, failed[0].ID), otok.Token, nil); st != 404 {
		t.Fatalf("another tenant's delivery: %d %s", st, body)
	}
	if st, body := o.p.Do("POST", fmt.Sprintf("/api/v1/tenants/%d/voicemail/deliveries/%d/retry", o.tid, failed[0].ID+1000), o.admin, nil); st != 404 {
		t.Fatalf("a missing delivery: %d %s", st, body)
	}
	if len(o.deliveries(t, "failed")) != 1 {
		t.Fatal("the refused retries changed the delivery")
	}
	var d store.VoicemailMail
	o.p.MustDo(200, "POST", retry, o.admin, nil, &d)
	if d.ID != failed[0].ID || d.Attempts != 0 || d.LastError != "" || (d.State != store.MailPending && d.State != store.MailSent) {
		t.Fatalf("retried delivery: %+v", d)
	}
	if msgs := srv.Wait(1, 20*time.Second); len(msgs) != 1 {
		t.Fatalf("the relay received %d messages after the retry", len(msgs))
	}
	deadline = time.Now().Add(10 * time.Second)
	for len(o.deliveries(t, "sent")) != 1 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if sent := o.deliveries(t, "sent"); len(sent) != 1 || sent[0].ID != d.ID || sent[0].Attempts != 0 {
		t.Fatalf("sent deliveries: %+v", sent)
	}
	if st, body := o.p.Do("POST", retry, o.admin, nil); st != 409 || !strings.Contains(string(body), "not_failed") {
		t.Fatalf("retry of a sent delivery: %d %s", st, body)
	}
	// The command line: refused for the sent delivery, and once it failed again, re-queued.
	if stdout, stderr, code := o.p.CLI("voicemail", "deliveries", "retry", "--tenant", "acme", fmt.Sprint(d.ID)); code == 0 || !strings.Contains(stderr, "only a failed delivery") {
		t.Fatalf("cli retry of a sent delivery: %d %s %s", code, stdout, stderr)
	}
	if _, err := o.p.App.DB.Exec(t.Context(), `UPDATE voicemail_mail SET state = 'failed', attempts = 2, last_error = 'relay down' WHERE id = ?`, d.ID); err != nil {
		t.Fatal(err)
	}
	if stdout, stderr, code := o.p.CLI("voicemail", "deliveries", "retry", "--tenant", "acme", fmt.Sprint(d.ID)); code != 0 || !strings.Contains(stdout, "pending") {
		t.Fatalf("cli retry: %d %s %s", code, stdout, stderr)
	}
	if _, stderr, code := o.p.CLI("voicemail", "deliveries", "retry", "--tenant", "other", fmt.Sprint(d.ID)); code == 0 || !strings.Contains(stderr, "no delivery") {
		t.Fatalf("cli retry in another tenant: %d %s", code, stderr)
	}
	var audit api.List[store.AuditEntry]
	o.p.MustDo(200, "GET", fmt.Sprintf("/api/v1/tenants/%d/audit?action=voicemail.mail.retry", o.tid), o.admin, nil, &audit)
	if len(audit.Items) != 2 || audit.Items[0].TargetID != fmt.Sprint(d.ID) || audit.Items[1].TargetID != fmt.Sprint(d.ID) {
		t.Fatalf("audit of the retries: %+v", audit.Items)
	}
}
