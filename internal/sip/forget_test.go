package sip_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gosip "github.com/emiago/sipgo/sip"

	"github.com/privox/privox/internal/config"
	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/sip"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/tenancy"
)

// Deactivation, erasure and suspension reach the running SIP server: its bindings, its account
// cache and the calls in progress (sip.Server.ForgetUser, wired by the app).

// person makes a user of the default tenant through the API.
func (e *env) person(name, email string) int64 {
	e.t.Helper()
	var u struct {
		ID int64 `json:"id"`
	}
	e.p.MustDo(201, "POST", "/api/v1/tenants/1/users", e.p.AdminToken, map[string]any{"name": name, "email": email, "password": "a-long-password-1"}, &u)
	return u.ID
}

// registerFrom sends a REGISTER for number from a loopback address of its own and returns
// the final status.
func (e *env) registerFrom(ip, number, password string) int {
	e.t.Helper()
	c := newSIPClient(e.t, ip)
	req := gosip.NewRequest(gosip.REGISTER, gosip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: port(e.addr("udp"))})
	req.AppendHeader(&gosip.FromHeader{Address: gosip.Uri{Scheme: "sip", User: number, Host: "127.0.0.1"}, Params: tagParam()})
	req.AppendHeader(&gosip.ToHeader{Address: gosip.Uri{Scheme: "sip", User: number, Host: "127.0.0.1"}})
	req.AppendHeader(&gosip.ContactHeader{Address: gosip.Uri{Scheme: "sip", User: number, Host: ip, Port: 5999}})
	req.AppendHeader(gosip.NewHeader("Expires", "600"))
	return c.do(req, number, password).StatusCode
}

func (e *env) journal(userID int64) []store.JournalEntry {
	e.t.Helper()
	js, err := e.p.App.DB.ListJournal(context.Background(), 1, userID, store.Page{Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return js
}

// TestDeactivatedUserUnreachable: alice (1002) is on a call with bob (1001) when an admin
// deactivates her. The call ends at once, her phone's binding goes, her phone cannot register
// again, a new call to her number reaches nobody, and nothing new is stored about her: no CDR
// names her, she has no journal, bob's journal line of the calls shows her number masked. She
// cannot be given a new extension either.
func TestDeactivatedUserUnreachable(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { deactivatedUserUnreachable(t, start(t, nil)) })
	if os.Getenv("PRIVOX_TEST_POSTGRES") != "" {
		t.Run("postgres", func(t *testing.T) {
			e := &env{t: t, p: privoxtest.Start(t, privoxtest.Options{Engine: store.Postgres})}
			pol := e.srv().Policy()
			pol.NoAnswer = 20 * time.Second
			e.srv().SetPolicy(pol)
			deactivatedUserUnreachable(t, e)
		})
	}
}

func deactivatedUserUnreachable(t *testing.T, e *env) {
	bob := e.person("Bob Caller", "bob@example.com")
	alice := e.person("Alice Callee", "alice@example.com")
	e.ext("1001", "secret-1001", "--user", fmt.Sprint(bob))
	e.ext("1002", "secret-1002", "--user", fmt.Sprint(alice))
	uas := e.newPeer("udp")
	callee := e.sippUAS("alice's phone", "uas.xml", uas)
	e.register("1002", "secret-1002", uas)
	caller := e.sippUAC("bob's phone", "uac_wait_bye.xml", "udp", "-key", "session_expires", "1800")
	waitFor(t, "the call answered", func() bool {
		calls := e.srv().TenantCalls(1)
		return len(calls) == 1 && calls[0].State == "answered"
	})

	e.p.MustDo(200, "POST", fmt.Sprintf("/api/v1/tenants/1/users/%d/deactivate", alice), e.p.AdminToken, map[string]any{"confirm": true}, nil)
	if n := e.srv().ActiveCalls(); n != 0 {
		t.Errorf("%d calls still up after deactivating alice", n)
	}
	if n := e.srv().Registered(); n != 0 {
		t.Errorf("%d bindings still held after deactivating alice", n)
	}
	caller.wait(t) // ends with Privox's BYE
	callee.wait(t)
	if st := e.registerFrom("127.0.0.3", "1002", "secret-1002"); st == 200 {
		t.Errorf("alice's phone registered again after her deactivation")
	}
	res := newSIPClient(t, "127.0.0.2").do(e.invite("1001", "1002"), "1001", "secret-1001")
	if res.StatusCode < 400 {
		t.Errorf("call to deactivated alice: %d, want a failure", res.StatusCode)
	}
	waitFor(t, "both CDRs", func() bool { return len(e.cdrs(t)) == 2 })
	// The call that was up: alice's side anonymised. The call after: to a number that no
	// longer belongs to anyone (erasure keeps it in the tenant's plan, without her).
	cdrs := e.cdrs(t)
	for i, c := range cdrs {
		if c.CalleeUserID != nil && *c.CalleeUserID == alice || c.CallerUserID != nil && *c.CallerUserID == alice {
			t.Errorf("CDR %d names the erased user: %+v", i, c)
		}
		if c.CallerUserID == nil || *c.CallerUserID != bob || c.Caller != "1001" {
			t.Errorf("CDR %d lost bob's side: %+v", i, c)
		}
	}
	if cdrs[0].Callee != "xxxx" || cdrs[0].HangupBy != "system:user-deactivated" {
		t.Errorf("CDR of the call ended by the deactivation: %+v", cdrs[0])
	}
	if js := e.journal(alice); len(js) != 0 {
		t.Errorf("journal lines stored for the erased user: %+v", js)
	}
	if js := e.journal(bob); len(js) != 2 || js[0].PeerNumber != "xxxx" || js[0].PeerUserID != nil || js[1].PeerUserID != nil {
		t.Errorf("bob's journal: %+v", js)
	}
	st, body := e.p.Do("POST", "/api/v1/tenants/1/extensions", e.p.AdminToken, map[string]any{"number": "1003", "user_id": alice, "sip_password": "secret-1003"})
	if st != 400 || !strings.Contains(string(body), "deactivated") {
		t.Errorf("new extension for the deactivated user: %d %s", st, body)
	}
}

// TestSuspendedUser: suspension drops alice's binding and blocks her phone and her sign-in;
// resuming gives both back, and nothing was erased.
func TestSuspendedUser(t *testing.T) {
	e := start(t, nil)
	alice := e.person("Alice Suspended", "alice@example.com")
	e.ext("1002", "secret-1002", "--user", fmt.Sprint(alice))
	if st := e.registerFrom("127.0.0.3", "1002", "secret-1002"); st != 200 {
		t.Fatalf("REGISTER: %d", st)
	}
	login := func() int {
		st, _ := e.p.Do("POST", "/api/v1/login", "", map[string]any{"tenant": "default", "email": "alice@example.com", "password": "a-long-password-1"})
		return st
	}
	if st := login(); st != 200 {
		t.Fatalf("login: %d", st)
	}
	var u store.User
	e.p.MustDo(200, "POST", fmt.Sprintf("/api/v1/tenants/1/users/%d/suspend", alice), e.p.AdminToken, nil, &u)
	if u.SuspendedAt == nil || !u.Active || u.Name != "Alice Suspended" {
		t.Fatalf("suspended user: %+v", u)
	}
	if n := e.srv().Registered(); n != 0 {
		t.Errorf("%d bindings held for a suspended user", n)
	}
	if st := e.registerFrom("127.0.0.3", "1002", "secret-1002"); st == 200 {
		t.Error("a suspended user's phone registered")
	}
	if st := login(); st == 200 {
		t.Error("a suspended user signed in")
	}
	var r store.User
	e.p.MustDo(200, "POST", fmt.Sprintf("/api/v1/tenants/1/users/%d/resume", alice), e.p.AdminToken, nil, &r)
	if r.SuspendedAt != nil {
		t.Fatalf("resumed user: %+v", u)
	}
	if st := e.registerFrom("127.0.0.3", "1002", "secret-1002"); st != 200 {
		t.Errorf("REGISTER after resume: %d", st)
	}
	if st := login(); st != 200 {
		t.Errorf("login after resume: %d", st)
	}
	// The CLI suspends too, and a running server notices within its poll interval.
	if out, errOut, code := e.p.CLI("user", "suspend", "--tenant", "default", fmt.Sprint(alice)); code != 0 {
		t.Fatalf("privox user suspend: %d %s %s", code, out, errOut)
	}
	waitFor(t, "the binding to go after a suspension by the CLI", func() bool { return e.srv().Registered() == 0 })
	var audit struct {
		Items []store.AuditEntry `json:"items"`
	}
	e.p.MustDo(200, "GET", "/api/v1/tenants/1/audit?target_type=user", e.p.AdminToken, nil, &audit)
	var actions []string
	for _, a := range audit.Items {
		if strings.HasPrefix(a.Action, "user.s") || strings.HasPrefix(a.Action, "user.r") {
			actions = append(actions, a.Action)
		}
	}
	if got := strings.Join(actions, " "); !strings.Contains(got, "user.suspend user.resume user.suspend") {
		t.Errorf("audit of the suspensions: %s", got)
	}
}

// TestErasedPersonGoneFromDatabaseFiles writes a person with a distinctive name, e-mail
// address, number and IP address through the real paths (the API, a REGISTER from her own
// address, a call from her phone), frees her number and erases her, and then reads every file
// of the data directory byte by byte (the database, its write-ahead log and shared-memory
// index, anything else there): none of the values may be left. SQLite only: PostgreSQL keeps
// its files in the cluster's own directory (store's TestScrub checks that it vacuums). The
// database runs clear here (database.encrypt: false), so that the values are readable in the
// files before the erasure and the test sees the scrubbing itself; encrypted, the files hold
// none of them at any time (store's TestEncryptedAtRestGrep).
func TestErasedPersonGoneFromDatabaseFiles(t *testing.T) {
	e := startWith(t, privoxtest.Options{Configure: func(c *config.Config) { c.Database.Encrypt = false }},
		func(p *sip.Policy) { p.NoAnswer = 2 * time.Second })
	const (
		name   = "Zebulon Quackenbush"
		email  = "zebulon.quackenbush@erasure.example"
		number = "73519"
		ip     = "127.83.91.17"
	)
	ctx := context.Background()
	bob := e.person("Bob Keeper", "bob@example.com")
	zeb := e.person(name, email)
	e.ext("1001", "secret-1001", "--user", fmt.Sprint(bob))
	// Through tenancy rather than the API: the API's audit line of an extension names its
	// number, and the audit log (kept by its own rule) records what admins did.
	tn, err := e.p.App.DB.Tenant(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	ext, err := tenancy.CreateExtension(ctx, e.p.App.DB, tenancy.Realm(tn), store.Extension{TenantID: 1, UserID: &zeb, Number: number, DisplayName: name}, "secret-73519")
	if err != nil {
		t.Fatal(err)
	}
	if st := e.registerFrom(ip, number, "secret-73519"); st != 200 {
		t.Fatalf("REGISTER from %s: %d", ip, st)
	}
	waitFor(t, "the registration in the store", func() bool {
		var n int
		e.p.App.DB.QueryRow(ctx, `SELECT COUNT(*) FROM registrations WHERE source_ip = ?`, ip).Scan(&n)
		return n == 1
	})
	// bob calls zeb, whose phone does not answer: a CDR, and a journal line for each of them
	// (bob's names zeb's number and display name)
	if res := newSIPClient(t, "127.0.0.2").do(e.invite("1001", number), "1001", "secret-1001"); res.StatusCode < 400 {
		t.Fatalf("call to zeb: %d", res.StatusCode)
	}
	waitFor(t, "the CDR", func() bool { return len(e.cdrs(t)) == 1 && len(e.journal(bob)) == 1 })
	if err := grepDir(e.p.DataDir, name, email, number, ip); err == nil {
		t.Fatal("the values are not in the data directory before erasure: the test proves nothing")
	}

	e.p.MustDo(204, "DELETE", fmt.Sprintf("/api/v1/tenants/1/extensions/%d", ext.ID), e.p.AdminToken, nil, nil)
	e.p.MustDo(200, "POST", fmt.Sprintf("/api/v1/tenants/1/users/%d/deactivate", zeb), e.p.AdminToken, map[string]any{"confirm": true}, nil)
	if err := grepDir(e.p.DataDir, name, email, number, ip); err != nil {
		t.Error(err)
	}
	if js := e.journal(bob); len(js) != 1 || js[0].PeerNumber != "7xxxx" || js[0].PeerName != "" {
		t.Errorf("bob's journal after the erasure: %+v", js)
	}
}

// grepDir returns an error naming every value found in a file under dir (nil when none is).
func grepDir(dir string, values ...string) error {
	var found []string
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, v := range values {
			if bytes.Contains(b, []byte(v)) {
				found = append(found, fmt.Sprintf("%q in %s", v, strings.TrimPrefix(path, dir)))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(found) > 0 {
		return fmt.Errorf("erased values left in the data directory: %s", strings.Join(found, ", "))
	}
	return nil
}
