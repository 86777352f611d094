package privacy_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/privox/privox/internal/audio"
	"github.com/privox/privox/internal/config"
	"github.com/privox/privox/internal/datacat"
	"github.com/privox/privox/internal/filestore"
	"github.com/privox/privox/internal/flows"
	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/privacy"
	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/voicemail"
)

// start runs a whole Privox with the test tables created. SIP stays off: these tests talk to
// the API, the CLI and the store only.
func start(t *testing.T, opts privoxtest.Options) *privoxtest.Privox {
	t.Helper()
	opts.Configure = func(c *config.Config) { c.SIP.Addr, c.SIP.TLSAddr = "", "" }
	p := privoxtest.Start(t, opts)
	createTestTables(t, p.App.DB)
	return p
}

// onEngines runs an integration test on SQLite and, when configured, PostgreSQL.
func onEngines(t *testing.T, f func(t *testing.T, opts privoxtest.Options)) {
	t.Run("sqlite", func(t *testing.T) { f(t, privoxtest.Options{}) })
	if os.Getenv("PRIVOX_TEST_POSTGRES") != "" || os.Getenv("PRIVOX_REQUIRE_POSTGRES") == "1" {
		t.Run("postgres", func(t *testing.T) { f(t, privoxtest.Options{Engine: store.Postgres}) })
	}
}

type idOnly struct {
	ID int64 `json:"id"`
}

// org is a tenant with an admin token, made through the API.
type org struct {
	p      *privoxtest.Privox
	tid    int64
	admin  string
	prefix string
}

func newOrg(t *testing.T, p *privoxtest.Privox, name, preset string) *org {
	t.Helper()
	var tn idOnly
	p.MustDo(201, "POST", "/api/v1/tenants", p.AdminToken, map[string]any{"name": name, "retention_preset": preset, "admin_contact": "dpo@" + name + ".test"}, &tn)
	o := &org{p: p, tid: tn.ID, prefix: fmt.Sprintf("/api/v1/tenants/%d", tn.ID)}
	aid := o.user(t, "admin@"+name+".test", "admin")
	o.admin = o.token(t, aid)
	return o
}

func (o *org) user(t *testing.T, email, role string) int64 {
	t.Helper()
	var u idOnly
	o.p.MustDo(201, "POST", o.prefix+"/users", o.p.AdminToken, map[string]any{"name": "Person " + email, "email": email, "role": role, "password": "a-long-password-1"}, &u)
	return u.ID
}

func (o *org) token(t *testing.T, uid int64) string {
	t.Helper()
	var tok struct {
		Token string `json:"token"`
	}
	o.p.MustDo(201, "POST", o.prefix+"/tokens", o.p.AdminToken, map[string]any{"name": "t", "user_id": uid}, &tok)
	return tok.Token
}

func readZip(t *testing.T, b []byte) (map[string][]byte, privacy.Manifest) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("export is not a ZIP: %v", err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	var m privacy.Manifest
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	return files, m
}

// filler puts at least one record for the person into a table. The completeness test needs one
// for every table that can hold a person's data; a new table fails the test until it has one.
type filler func(t *testing.T, o *org, uid int64, mark string)

var fillers = map[string]filler{
	"users":          func(t *testing.T, o *org, uid int64, mark string) {}, // the person themself
	"user_passwords": func(t *testing.T, o *org, uid int64, mark string) {}, // set when the user was made
	"extensions": func(t *testing.T, o *org, uid int64, mark string) {
		o.p.MustDo(201, "POST", o.prefix+"/extensions", o.admin, map[string]any{"number": "1001", "user_id": uid, "sip_password": "sip-secret-" + mark, "display_name": mark}, nil)
	},
	"sip_secrets": func(t *testing.T, o *org, uid int64, mark string) {}, // with the extension
	"api_tokens":  func(t *testing.T, o *org, uid int64, mark string) { o.token(t, uid) },
	"sessions": func(t *testing.T, o *org, uid int64, mark string) {
		if _, err := o.p.App.DB.CreateSession(context.Background(), store.Session{TenantID: o.tid, UserID: uid, CSRF: "c", ExpiresAt: ago(-1)}, "digest-"+mark); err != nil {
			t.Fatal(err)
		}
	},
	"registrations": func(t *testing.T, o *org, uid int64, mark string) {
		var ext int64
		if err := o.p.App.DB.QueryRow(context.Background(), `SELECT id FROM extensions WHERE user_id = ?`, uid).Scan(&ext); err != nil {
			t.Fatal(err)
		}
		if _, err := o.p.App.DB.Exec(context.Background(), `INSERT INTO registrations (tenant_id, user_id, extension_id, aor, contact, source_ip, source_port, transport, user_agent, expires_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, o.tid, uid, ext, "sip:"+mark+"@x", "sip:"+mark+"@192.0.2.10:5060", "192.0.2.10", 5060, "udp", "Phone/"+mark, ago(-1), ago(0)); err != nil {
			t.Fatal(err)
		}
	},
	"cdrs": func(t *testing.T, o *org, uid int64, mark string) {
		// The person as the callee of an inbound call (as the caller: with the call journal).
		_, err := o.p.App.DB.RecordCall(context.Background(), store.CDR{TenantID: o.tid, CallID: "in-" + mark, Caller: "+4940777" + mark, Callee: "1001",
			CalleeUserID: &uid, Direction: "inbound", StartAt: ago(1), EndAt: ago(1) + 5000, DurationMS: 5000, Cause: 200}, nil)
		if err != nil {
			t.Fatal(err)
		}
	},
	"call_journal": func(t *testing.T, o *org, uid int64, mark string) {
		_, err := o.p.App.DB.RecordCall(context.Background(), store.CDR{TenantID: o.tid, CallID: "call-" + mark, Caller: "1001", Callee: "+4930555" + mark,
			CallerUserID: &uid, Direction: "outbound", StartAt: ago(1), EndAt: ago(1) + 5000, DurationMS: 5000, Cause: 200},
			[]store.JournalEntry{{TenantID: o.tid, UserID: uid, CallID: "call-" + mark, Direction: "out", PeerNumber: "+4930555" + mark, StartAt: ago(1), Answered: true, DurationMS: 5000, Cause: 200}})
		if err != nil {
			t.Fatal(err)
		}
		// A colleague's journal line of a call from the person: it names them as the peer.
		peer := o.user(t, "colleague-of-"+strings.ToLower(mark)+"@acme.test", "user")
		_, err = o.p.App.DB.RecordCall(context.Background(), store.CDR{TenantID: o.tid, CallID: "peer-" + mark, Caller: "1001", Callee: "1009",
			CallerUserID: &uid, CalleeUserID: &peer, Direction: "internal", StartAt: ago(1), EndAt: ago(1) + 5000, DurationMS: 5000, Cause: 200},
			[]store.JournalEntry{{TenantID: o.tid, UserID: peer, CallID: "peer-" + mark, Direction: "in", PeerNumber: "1001", StartAt: ago(1), Answered: true, DurationMS: 5000, Cause: 200}})
		if err != nil {
			t.Fatal(err)
		}
	},
	"content_files": func(t *testing.T, o *org, uid int64, mark string) {
		if _, err := o.p.App.Files.Put(context.Background(), o.tid, &uid, filestore.KindFax, []byte("%PDF fax of "+mark), ago(1), nil); err != nil {
			t.Fatal(err)
		}
	},
	"test_voicemails": func(t *testing.T, o *org, uid int64, mark string) {
		_, err := o.p.App.Files.Put(context.Background(), o.tid, &uid, filestore.KindVoicemail, []byte("RIFF voicemail for "+mark), ago(1), func(tx *store.DB, f store.ContentFile) error {
			_, err := tx.Exec(context.Background(), `INSERT INTO test_voicemails (tenant_id, user_id, file_id, caller, created_at) VALUES (?, ?, ?, ?, ?)`, o.tid, uid, f.ID, "+4989111"+mark, ago(1))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	},
	// The person's voicemail box (internal/voicemail): settings, PIN, a greeting and a message.
	"voicemail_boxes": func(t *testing.T, o *org, uid int64, mark string) {
		o.p.MustDo(200, "PATCH", o.voicemailPath(t, uid), o.admin, map[string]any{"retention_days": 30}, nil)
	},
	"voicemail_pins": func(t *testing.T, o *org, uid int64, mark string) {
		o.p.MustDo(204, "PUT", o.voicemailPath(t, uid)+"/pin", o.admin, map[string]any{"pin": "73519"}, nil)
	},
	"voicemail_greetings": func(t *testing.T, o *org, uid int64, mark string) {
		wav, _ := audio.EncodeWAV(audio.Format{Encoding: audio.LinearPCM16, Rate: 8000, Channels: 1}, make([]byte, 8000))
		o.p.MustDo(200, "PUT", o.voicemailPath(t, uid)+"/greetings/unavailable", o.token(t, uid), wav, nil)
	},
	"voicemail_messages": func(t *testing.T, o *org, uid int64, mark string) {
		var ext int64
		if err := o.p.App.DB.QueryRow(context.Background(), `SELECT id FROM extensions WHERE user_id = ?`, uid).Scan(&ext); err != nil {
			t.Fatal(err)
		}
		b, err := o.p.App.DB.EnsureVoicemailBox(context.Background(), o.tid, ext)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := o.p.App.Voicemail.Store(context.Background(), b, voicemail.Deposit{CallerNumber: "+4969333" + mark, CallerName: "Caller of " + mark,
			At: time.UnixMilli(ago(1)), PCM: make([]int16, 8000)}); err != nil {
			t.Fatal(err)
		}
	},
	// The e-mail delivery of a message (internal/voicemail), and the objection to them.
	"voicemail_mail": func(t *testing.T, o *org, uid int64, mark string) {
		var ext int64
		if err := o.p.App.DB.QueryRow(context.Background(), `SELECT id FROM extensions WHERE user_id = ?`, uid).Scan(&ext); err != nil {
			t.Fatal(err)
		}
		b, err := o.p.App.DB.EnsureVoicemailBox(context.Background(), o.tid, ext)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := o.p.App.DB.EnqueueVoicemailMail(context.Background(), store.VoicemailMessage{TenantID: o.tid, BoxID: b.ID, UserID: &uid, ID: 1}, ago(-1)); err != nil {
			t.Fatal(err)
		}
	},
	"mail_objections": func(t *testing.T, o *org, uid int64, mark string) {
		o.p.MustDo(200, "PUT", fmt.Sprintf("%s/users/%d/objections/email-copy", o.prefix, uid), o.token(t, uid), map[string]any{"objected": true}, nil)
	},
	"test_contacts": func(t *testing.T, o *org, uid int64, mark string) {
		if _, err := o.p.App.DB.Exec(context.Background(), `INSERT INTO test_contacts (tenant_id, owner_id, name, email, phone, company) VALUES (?, ?, ?, ?, ?, ?)`,
			o.tid, uid, "Contact of "+mark, "friend-"+mark+"@example.com", "+49 30 999"+mark, "ACME"); err != nil {
			t.Fatal(err)
		}
	},
	// The person's extension, its outside calls suspended by an admin (internal/dialplan).
	"outside_suspensions": func(t *testing.T, o *org, uid int64, mark string) {
		var ext int64
		if err := o.p.App.DB.QueryRow(context.Background(), `SELECT id FROM extensions WHERE user_id = ?`, uid).Scan(&ext); err != nil {
			t.Fatal(err)
		}
		o.p.MustDo(200, "PUT", fmt.Sprintf("%s/extensions/%d/outside-suspension", o.prefix, ext), o.admin, nil, nil)
	},
	// Phonebooks (internal/directory): a personal phonebook with one entry, made by the person,
	// and membership of a group phonebook the admin keeps.
	"phonebooks": func(t *testing.T, o *org, uid int64, mark string) {
		o.p.MustDo(201, "POST", o.prefix+"/phonebooks", o.token(t, uid), map[string]any{"kind": "personal", "name": "Book of " + mark}, nil)
	},
	"contacts": func(t *testing.T, o *org, uid int64, mark string) {
		var b struct{ ID int64 }
		o.p.MustDo(201, "POST", o.prefix+"/phonebooks", o.token(t, uid), map[string]any{"kind": "personal", "name": "Friends of " + mark}, &b)
		o.p.MustDo(201, "POST", fmt.Sprintf("%s/phonebooks/%d/contacts", o.prefix, b.ID), o.token(t, uid),
			map[string]any{"display_name": "Friend of " + mark, "email": "friend-of-" + mark + "@example.com", "numbers": map[string]string{"mobile": "+49 171 777" + mark}}, nil)
	},
	"phonebook_members": func(t *testing.T, o *org, uid int64, mark string) {
		o.p.MustDo(201, "POST", o.prefix+"/phonebooks", o.admin, map[string]any{"kind": "group", "name": "Team " + mark, "members": []int64{uid}}, nil)
	},
	"audit_log": func(t *testing.T, o *org, uid int64, mark string) {
		// The person acts through the API: their own entry in the audit log.
		o.p.MustDo(200, "PATCH", fmt.Sprintf("%s/users/%d", o.prefix, uid), o.token(t, uid), map[string]any{"language": "de"}, nil)
	},
	"legal_holds": func(t *testing.T, o *org, uid int64, mark string) {
		o.p.MustDo(201, "POST", o.prefix+"/holds", o.admin, map[string]any{"user_id": uid, "reason": "billing dispute " + mark, "expires_at": ago(-30)}, nil)
	},
	// The person forwards their extension and is on do-not-disturb (internal/dialplan).
	"call_forwarding": func(t *testing.T, o *org, uid int64, mark string) {
		var ext int64
		if err := o.p.App.DB.QueryRow(context.Background(), `SELECT id FROM extensions WHERE user_id = ?`, uid).Scan(&ext); err != nil {
			t.Fatal(err)
		}
		o.p.MustDo(200, "PUT", fmt.Sprintf("%s/extensions/%d/forwarding", o.prefix, ext), o.token(t, uid), map[string]any{"busy": "0301234567", "dnd": true}, nil)
	},
	"caller_id_prefs": func(t *testing.T, o *org, uid int64, mark string) {
		o.p.MustDo(200, "PUT", fmt.Sprintf("%s/users/%d/caller-id", o.prefix, uid), o.admin, map[string]any{"clir": true}, nil)
	},
	"restrictions": func(t *testing.T, o *org, uid int64, mark string) {
		o.p.MustDo(200, "PUT", fmt.Sprintf("%s/users/%d/restriction", o.prefix, uid), o.admin, map[string]any{"reason": "accuracy contested " + mark}, nil)
	},
	"erasures": func(t *testing.T, o *org, uid int64, mark string) {
		if _, err := o.p.App.DB.Exec(context.Background(), `INSERT INTO erasures (tenant_id, user_id, requested_at, requested_by, completed_at) VALUES (?, ?, ?, ?, ?)`,
			o.tid, uid, ago(3), "cli", ago(3)); err != nil {
			t.Fatal(err)
		}
	},
}

// TestExportCompleteness fills every table of the registry that can hold a person's data for
// one person (and, as a control, for another), exports the person through the API and the CLI,
// and fails if any table, category or content file is missing, if a secret leaks, or if the
// other person's data appears.
func TestExportCompleteness(t *testing.T) {
	onEngines(t, func(t *testing.T, opts privoxtest.Options) {
		p := start(t, opts)
		o := newOrg(t, p, "acme", "eu")
		alice := o.user(t, "alice@acme.test", "user")
		bob := o.user(t, "bob@acme.test", "user")
		var tables []datacat.Table
		for _, tb := range datacat.Tables() {
			if !tb.LinksPerson() || tb.TenantColumn == "" {
				continue
			}
			tables = append(tables, tb)
			if _, ok := fillers[tb.Name]; !ok {
				t.Errorf("table %s can hold a person's data but the export completeness test has no filler for it", tb.Name)
			}
		}
		if t.Failed() {
			return
		}
		order := []string{"extensions"} // registrations need the extension
		for _, tb := range tables {
			if tb.Name != "extensions" {
				order = append(order, tb.Name)
			}
		}
		for _, name := range order {
			fillers[name](t, o, alice, "A1")
		}
		for _, name := range order {
			if name == "extensions" {
				o.p.MustDo(201, "POST", o.prefix+"/extensions", o.admin, map[string]any{"number": "1002", "user_id": bob, "sip_password": "sip-secret-B2"}, nil)
				continue
			}
			fillers[name](t, o, bob, "B2")
		}

		st, body := p.Do("GET", fmt.Sprintf("%s/users/%d/export", o.prefix, alice), o.token(t, alice), nil)
		if st != 200 {
			t.Fatalf("export: %d %s", st, body)
		}
		files, m := readZip(t, body)
		if m.Format != privacy.ExportFormat || m.UserID != alice || m.Tenant.AdminContact != "dpo@acme.test" {
			t.Fatalf("manifest head: %+v", m)
		}
		inManifest := map[string]int64{}
		cats := map[datacat.Category]privacy.ManifestCategory{}
		for _, c := range m.Categories {
			cats[c.Category] = c
			for _, mt := range c.Tables {
				inManifest[mt.Table] = mt.Records
			}
		}
		for _, c := range datacat.Categories() {
			mc, ok := cats[c]
			if !ok || mc.Retention.Mode == "" {
				t.Errorf("manifest lacks category %s or its retention", c)
			}
		}
		if cats[datacat.Billing].Retention.Days != 183 {
			t.Errorf("manifest retention of billing under eu: %+v", cats[datacat.Billing].Retention)
		}
		for _, tb := range tables {
			if inManifest[tb.Name] < 1 {
				t.Errorf("table %s holds data of the person but the export has %d records of it", tb.Name, inManifest[tb.Name])
				continue
			}
			var doc struct {
				Tables map[string][]map[string]any `json:"tables"`
			}
			raw := files["data/"+string(tb.Category)+".json"]
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatalf("data/%s.json: %v", tb.Category, err)
			}
			if len(doc.Tables[tb.Name]) < 1 {
				t.Errorf("data/%s.json has no rows of %s", tb.Category, tb.Name)
			}
			// Every person column the registry declares: the fillers made a record in which
			// only that column names alice, and the export has it.
			exported := map[string]bool{}
			for _, row := range doc.Tables[tb.Name] {
				exported[fmt.Sprint(row["id"])] = true
			}
			cols := tb.PersonColumns
			if tb.UserColumn != "" {
				cols = append([]string{tb.UserColumn}, cols...)
			}
			// The schema's user references are all declared: one left out would silently drop
			// records from exports and erasures.
			for _, c := range columnsIn(t, p, tb.Name) {
				if strings.HasSuffix(c, "user_id") && !slices.Contains(cols, c) {
					t.Errorf("%s.%s refers to a user but the registry does not declare it a person column", tb.Name, c)
				}
			}
			for _, c := range cols {
				if c == "id" {
					continue // the person's own row
				}
				key := "id"
				if !hasColumn(t, p, tb.Name, "id") {
					key = c // a table keyed by the person: one row
				}
				q := `SELECT ` + key + ` FROM ` + tb.Name + ` WHERE ` + c + ` = ?`
				for _, other := range cols {
					if other != c {
						q += ` AND (` + other + ` IS NULL OR ` + other + ` <> ` + fmt.Sprint(alice) + `)`
					}
				}
				rows, err := p.App.DB.Query(context.Background(), q, alice)
				if err != nil {
					t.Fatalf("%s.%s: %v", tb.Name, c, err)
				}
				var ids []string
				for rows.Next() {
					var id int64
					if err := rows.Scan(&id); err != nil {
						t.Fatal(err)
					}
					ids = append(ids, fmt.Sprint(id))
				}
				rows.Close()
				if len(ids) == 0 {
					t.Errorf("%s.%s: no record names the person only in this column; make the filler write one", tb.Name, c)
				}
				for _, id := range ids {
					if key != "id" {
						if len(doc.Tables[tb.Name]) < len(ids) {
							t.Errorf("%s: %d records name the person in %s, the export has %d", tb.Name, len(ids), c, len(doc.Tables[tb.Name]))
						}
						break
					}
					if !exported[id] {
						t.Errorf("%s record %s names the person in %s but is not in the export", tb.Name, id, c)
					}
				}
			}
		}
		all := string(bytes.Join(func() [][]byte {
			var out [][]byte
			for _, b := range files {
				out = append(out, b)
			}
			return out
		}(), nil))
		for _, leak := range []string{"B2", "bob@acme.test"} {
			if strings.Contains(all, leak) {
				t.Errorf("export of alice contains bob's data (%q)", leak)
			}
		}
		var secret string
		if err := p.App.DB.QueryRow(context.Background(), `SELECT ha1_md5 FROM sip_secrets WHERE user_id = ?`, alice).Scan(&secret); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(all, secret) || !strings.Contains(all, "[withheld]") {
			t.Error("a SIP digest secret left in the export, or secrets are not marked withheld")
		}
		if !strings.Contains(string(files["data/call_journal.csv"]), "+4930555A1") || !strings.Contains(string(files["data/cdrs.csv"]), "call-A1") {
			t.Errorf("call journal CSV: %q", files["data/call_journal.csv"])
		}
		vcf := string(files["contacts/test_contacts.vcf"])
		if !strings.Contains(vcf, "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Contact of A1\r\n") || !strings.Contains(vcf, "TEL;VALUE=uri:tel:+4930999A1") {
			t.Errorf("vCard: %q", vcf)
		}
		kinds := map[string][]string{}
		for _, c := range m.Content {
			if c.Unreadable != "" {
				t.Errorf("content %d unreadable: %s", c.ID, c.Unreadable)
			}
			kinds[c.Kind] = append(kinds[c.Kind], string(files[c.Path]))
			if !strings.HasSuffix(c.Path, map[string]string{"fax": ".pdf", "voicemail": ".wav", "greeting": ".wav"}[c.Kind]) {
				t.Errorf("content path %s", c.Path)
			}
		}
		// The fax and the test table's voicemail, and the voicemail box's message and greeting
		// (WAV files).
		vms := kinds["voicemail"]
		slices.SortFunc(vms, func(a, b string) int { return strings.Count(b, "WAVE") - strings.Count(a, "WAVE") })
		if len(kinds["fax"]) != 1 || kinds["fax"][0] != "%PDF fax of A1" || len(vms) != 2 || vms[1] != "RIFF voicemail for A1" || !strings.Contains(vms[0], "WAVE") ||
			len(kinds["greeting"]) != 1 || !strings.HasPrefix(kinds["greeting"][0], "RIFF") || len(m.Content) != 4 {
			t.Errorf("decrypted media: %d fax, %d voicemail, %d greeting (%d files)", len(kinds["fax"]), len(vms), len(kinds["greeting"]), len(m.Content))
		}

		// The CLI writes the same export.
		out := filepath.Join(t.TempDir(), "alice.zip")
		so, se, code := p.CLI("export", "--tenant", "acme", "--user", fmt.Sprint(alice), "--out", out)
		if code != 0 {
			t.Fatalf("privox export: %d %s %s", code, so, se)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		_, m2 := readZip(t, b)
		for i := range m.Categories {
			// The first export is itself in the audit log by the time of the second.
			if m.Categories[i].Category != datacat.Audit && m.Categories[i].Records != m2.Categories[i].Records {
				t.Errorf("CLI export differs in %s: %d vs %d", m.Categories[i].Category, m2.Categories[i].Records, m.Categories[i].Records)
			}
		}
		if fi, _ := os.Stat(out); fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("export file is readable by others: %v", fi.Mode())
		}
		// Another member may not export alice; each export is audited.
		if st, _ := p.Do("GET", fmt.Sprintf("%s/users/%d/export", o.prefix, alice), o.token(t, bob), nil); st != 403 {
			t.Errorf("bob exporting alice: %d", st)
		}
		es, err := p.App.DB.QueryAudit(context.Background(), store.AuditQuery{TenantID: o.tid, Action: "export.create"})
		if err != nil || len(es) != 2 || es[0].ActorUserID == nil || *es[0].ActorUserID != alice || es[1].Actor != "cli" {
			t.Fatalf("export audit: %+v %v", es, err)
		}
	})
}

// TestErasureMakesBackupCopyUnreadable copies the data directory as a backup would, erases a
// user through deactivation, and proves that the user's content in the copy can no longer be
// decrypted while another user's content in the same copy still can.
func TestErasureMakesBackupCopyUnreadable(t *testing.T) {
	onEngines(t, func(t *testing.T, opts privoxtest.Options) {
		ctx := context.Background()
		p := start(t, opts)
		o := newOrg(t, p, "acme", "default")
		alice := o.user(t, "alice@acme.test", "user")
		bob := o.user(t, "bob@acme.test", "user")
		fillers["extensions"](t, o, alice, "A1")
		fillers["registrations"](t, o, alice, "A1")
		fillers["call_journal"](t, o, alice, "A1")
		fillers["test_contacts"](t, o, alice, "A1")
		_, err := p.App.DB.RecordCall(ctx, store.CDR{TenantID: o.tid, CallID: "a-to-b", Caller: "+4930123456", Callee: "+4930654321", CallerUserID: &alice, CalleeUserID: &bob,
			Direction: "internal", StartAt: ago(1), EndAt: ago(1), Cause: 200},
			[]store.JournalEntry{{TenantID: o.tid, UserID: bob, CallID: "a-to-b", Direction: "in", PeerNumber: "+4930123456", PeerName: "Alice", StartAt: ago(1), Answered: true, Cause: 200}})
		if err != nil {
			t.Fatal(err)
		}
		put := func(uid int64, kind, data string) store.ContentFile {
			f, err := p.App.Files.Put(ctx, o.tid, &uid, kind, []byte(data), ago(1), nil)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
		aliceFiles := []store.ContentFile{put(alice, filestore.KindVoicemail, "alice voicemail"), put(alice, filestore.KindRecording, "alice recording"), put(alice, filestore.KindGreeting, "alice greeting")}
		bobFile := put(bob, filestore.KindVoicemail, "bob voicemail")

		backup := filepath.Join(t.TempDir(), "backup")
		if out, err := exec.Command("cp", "-a", p.DataDir, backup).CombinedOutput(); err != nil {
			t.Fatalf("copy data directory: %v %s", err, out)
		}
		if strings.HasPrefix(keys.DefaultDir(p.DataDir), p.DataDir+string(os.PathSeparator)) {
			t.Fatal("the key vault must live outside the data directory")
		}
		inCopy := func(f store.ContentFile) string {
			rel, err := filepath.Rel(p.DataDir, p.App.Files.Path(f))
			if err != nil {
				t.Fatal(err)
			}
			return filepath.Join(backup, rel)
		}
		for _, f := range append(aliceFiles, bobFile) {
			if _, _, err := p.App.Files.Decrypt(f, inCopy(f)); err != nil {
				t.Fatalf("copy unreadable before erasure: %v", err)
			}
		}

		// Irreversible: without confirmation the API says what would go and changes nothing.
		var prev privacy.ErasurePreview
		p.MustDo(200, "GET", fmt.Sprintf("%s/users/%d/erasure", o.prefix, alice), o.admin, nil, &prev)
		what := map[string]string{}
		for _, it := range prev.Items {
			what[it.Table] = it.Action
		}
		if what["content_files"] != "delete" || what["cdrs"] != "anonymise" || what["users"] != "redact" || !prev.KeyDestroyed {
			t.Fatalf("erasure preview: %+v", prev)
		}
		st, body := p.Do("POST", fmt.Sprintf("%s/users/%d/deactivate", o.prefix, alice), o.admin, nil)
		if st != 409 || !strings.Contains(string(body), "confirmation_required") || !strings.Contains(string(body), "content_files") {
			t.Fatalf("deactivation without confirmation: %d %s", st, body)
		}
		if st, _ := p.Do("POST", fmt.Sprintf("%s/users/%d/erase", o.prefix, alice), o.admin, map[string]any{"confirm": false}); st != 409 {
			t.Fatalf("erasure without confirmation: %d", st)
		}
		if got, _ := p.App.DB.User(ctx, o.tid, alice); !got.Active || p.App.Vault.Erased(o.tid, alice) {
			t.Fatalf("unconfirmed deactivation changed something: %+v", got)
		}
		var u store.User
		p.MustDo(200, "POST", fmt.Sprintf("%s/users/%d/deactivate", o.prefix, alice), o.admin, map[string]any{"confirm": true}, &u)
		if u.Active || u.Name != "Erased user" || u.Email != fmt.Sprintf("erased-%d@invalid", alice) {
			t.Fatalf("user row after deactivation: %+v", u)
		}
		for _, f := range aliceFiles {
			_, _, err := p.App.Files.Decrypt(f, inCopy(f))
			if !errors.Is(err, keys.ErrErased) {
				t.Fatalf("alice's %s in the backup copy: %v, want crypto-erased", f.Kind, err)
			}
			if _, err := os.Stat(p.App.Files.Path(f)); !os.IsNotExist(err) {
				t.Fatalf("alice's %s still in the data directory", f.Kind)
			}
		}
		got, _, err := p.App.Files.Decrypt(bobFile, inCopy(bobFile))
		if err != nil || string(got) != "bob voicemail" {
			t.Fatalf("bob's voicemail in the copy: %q %v", got, err)
		}
		for table, q := range map[string]string{
			"content_files":  `SELECT COUNT(*) FROM content_files WHERE user_id = ?`,
			"call_journal":   `SELECT COUNT(*) FROM call_journal WHERE user_id = ?`,
			"extensions":     `SELECT COUNT(*) FROM extensions WHERE user_id = ?`,
			"sip_secrets":    `SELECT COUNT(*) FROM sip_secrets WHERE user_id = ?`,
			"registrations":  `SELECT COUNT(*) FROM registrations WHERE user_id = ?`,
			"user_passwords": `SELECT COUNT(*) FROM user_passwords WHERE user_id = ?`,
			"api_tokens":     `SELECT COUNT(*) FROM api_tokens WHERE user_id = ?`,
			"test_contacts":  `SELECT COUNT(*) FROM test_contacts WHERE owner_id = ?`,
			"cdrs":           `SELECT COUNT(*) FROM cdrs WHERE caller_user_id = ? OR callee_user_id = ` + fmt.Sprint(alice),
		} {
			if n := count(t, p.App.DB, q, alice); n != 0 {
				t.Errorf("%s: %d rows of the erased user left", table, n)
			}
		}
		// Traffic is anonymised, not deleted: the CDR stays for the tenant, without alice.
		var caller, callee string
		var anon bool
		var bobRef *int64
		if err := p.App.DB.QueryRow(ctx, `SELECT caller, callee, anonymised, callee_user_id FROM cdrs WHERE call_id = 'a-to-b'`).Scan(&caller, &callee, &anon, &bobRef); err != nil {
			t.Fatal(err)
		}
		// Only alice's side goes: bob's side of his CDR stays, and the row is not flagged
		// anonymised while bob is on it (retention anonymises it in time).
		if caller != "+49301xxxxx" || callee != "+4930654321" || anon || bobRef == nil || *bobRef != bob {
			t.Fatalf("anonymised CDR: %s %s %v %v", caller, callee, anon, bobRef)
		}
		// Bob's journal keeps the call without alice's number or name.
		bj, err := p.App.DB.ListJournal(ctx, o.tid, bob, store.Page{})
		if err != nil || len(bj) != 1 || bj[0].PeerNumber != "+49301xxxxx" || bj[0].PeerName != "" || bj[0].PeerUserID != nil {
			t.Fatalf("bob's journal after alice's erasure: %+v %v", bj, err)
		}
		if err := p.App.Privacy.CheckProcessing(ctx, o.tid, alice, privacy.PurposeRecording); !errors.Is(err, privacy.ErrRestricted) {
			t.Fatalf("processing of an erased user: %v", err)
		}
		if es, _ := p.App.DB.QueryAudit(ctx, store.AuditQuery{TenantID: o.tid, Action: "user.erase"}); len(es) != 1 || !strings.Contains(es[0].Detail, "complete=true") {
			t.Fatalf("erasure audit: %+v", es)
		}
	})
}

// TestEraseWaitsForHolds erases users through the API and the CLI; a hold on one content file
// keeps it (and the key that reads it) until the hold is released and the sweeper finishes.
func TestEraseWaitsForHolds(t *testing.T) {
	ctx := context.Background()
	p := start(t, privoxtest.Options{})
	o := newOrg(t, p, "acme", "default")
	carol := o.user(t, "carol@acme.test", "user")
	dave := o.user(t, "dave@acme.test", "user")
	held, err := p.App.Files.Put(ctx, o.tid, &carol, filestore.KindRecording, []byte("evidence"), ago(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := p.App.Files.Put(ctx, o.tid, &carol, filestore.KindVoicemail, []byte("not held"), ago(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	var h store.LegalHold
	p.MustDo(201, "POST", o.prefix+"/holds", o.admin, map[string]any{"table": "content_files", "record_id": held.ID, "reason": "fraud investigation", "expires_at": ago(-10)}, &h)
	var rep privacy.ErasureReport
	p.MustDo(200, "POST", fmt.Sprintf("%s/users/%d/erase", o.prefix, carol), o.admin, map[string]any{"confirm": true}, &rep)
	if rep.Complete || rep.KeyDestroyed || !strings.Contains(rep.PendingReason, "legal hold") {
		t.Fatalf("erasure with a held file: %+v", rep)
	}
	if got, _, err := p.App.Files.Get(ctx, o.tid, held.ID); err != nil || string(got) != "evidence" {
		t.Fatalf("held file: %q %v", got, err)
	}
	if _, _, err := p.App.Files.Get(ctx, o.tid, other.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unheld file survived: %v", err)
	}
	if st, _ := p.Do("POST", fmt.Sprintf("%s/users/%d/erase", o.prefix, carol), o.token(t, dave), nil); st != 403 {
		t.Fatalf("member erasing someone: %d", st)
	}
	p.MustDo(204, "DELETE", fmt.Sprintf("%s/holds/%d", o.prefix, h.ID), o.admin, nil, nil)
	var sw privacy.SweepReport
	p.MustDo(200, "POST", "/api/v1/retention/sweep", p.AdminToken, map[string]any{}, &sw)
	if sw.ErasuresCompleted != 1 {
		t.Fatalf("sweep after release: %+v", sw)
	}
	if !p.App.Vault.Erased(o.tid, carol) {
		t.Fatal("key not destroyed once the hold ended")
	}
	// The CLI erases too, and its deactivation runs the same erasure.
	so, se, code := p.CLI("user", "deactivate", "--tenant", "acme", fmt.Sprint(dave))
	if code != 1 || !strings.Contains(se, "--yes") || !strings.Contains(se, "user_passwords") {
		t.Fatalf("privox user deactivate without --yes: %d %s %s", code, so, se)
	}
	if u, err := p.App.DB.User(ctx, o.tid, dave); err != nil || !u.Active {
		t.Fatalf("unconfirmed deactivation changed the user: %+v %v", u, err)
	}
	so, se, code = p.CLI("user", "deactivate", "--tenant", "acme", fmt.Sprint(dave), "--yes")
	if code != 0 || !strings.Contains(so, "Erased user") {
		t.Fatalf("privox user deactivate: %d %s %s", code, so, se)
	}
	so, se, code = p.CLI("erase", "--tenant", "acme", "--user", fmt.Sprint(dave), "--yes")
	if code != 0 || !strings.Contains(so, "erased") {
		t.Fatalf("privox erase: %d %s %s", code, so, se)
	}
}

func hasColumn(t *testing.T, p *privoxtest.Privox, table, col string) bool {
	return slices.Contains(columnsIn(t, p, table), col)
}

func columnsIn(t *testing.T, p *privoxtest.Privox, table string) []string {
	t.Helper()
	rows, err := p.App.DB.Query(context.Background(), `SELECT * FROM `+table+` WHERE 1 = 0`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	return cols
}

func getText(t *testing.T, p *privoxtest.Privox, path, token string) string {
	t.Helper()
	st, b := p.Do("GET", path, token, nil)
	if st != 200 {
		t.Fatalf("GET %s: %d %s", path, st, b)
	}
	return string(b)
}

// TestGeneratedDocsFollowLiveConfig changes the live configuration (a flow switched on, a
// retention changed) and checks the privacy notice and the records of processing change with
// it, in English and German, over the API and the CLI.
func TestGeneratedDocsFollowLiveConfig(t *testing.T) {
	p := start(t, privoxtest.Options{})
	o := newOrg(t, p, "acme", "de")
	notice := func(lang string) string {
		return getText(t, p, o.prefix+"/docs/privacy-notice?lang="+lang, o.admin)
	}
	en, de := notice("en"), notice("de")
	for _, want := range []string{"privox_session", "Credentials", "anonymised after 7 days", "dpo@acme.test", "Presence"} {
		if !strings.Contains(en, want) {
			t.Errorf("notice lacks %q:\n%s", want, en)
		}
	}
	for _, want := range []string{"Datenschutzhinweise", "nach 7 Tagen anonymisiert", "privox_session", "Nie gespeichert"} {
		if !strings.Contains(de, want) {
			t.Errorf("German notice lacks %q", want)
		}
	}
	if strings.Contains(en, "newer Privox version") || strings.Contains(de, "neuere Privox-Version") {
		t.Fatal("update check listed while switched off")
	}
	if st, _ := p.Do("PUT", "/api/v1/flows", o.admin, map[string]any{"name": "update_check", "enabled": true}); st != 403 {
		t.Fatalf("tenant admin switching a flow: %d", st)
	}
	// On needs a destination as well as the switch; no subsystem configures one yet, so the
	// test gives this server's registry one (the CLI's registry has none: off there).
	if err := p.App.Flows.SetDestination("update_check", "updates.example.test:443"); err != nil {
		t.Fatal(err)
	}
	p.MustDo(200, "PUT", "/api/v1/flows", p.AdminToken, map[string]any{"name": "update_check", "enabled": true}, nil)
	p.MustDo(200, "PUT", o.prefix+"/retention", o.admin, map[string]any{"category": "traffic", "mode": "anonymise", "days": 10}, nil)
	en2, de2 := notice("en"), notice("de")
	for _, want := range []string{"Check whether a newer Privox version exists", "anonymised after 10 days"} {
		if !strings.Contains(en2, want) {
			t.Errorf("notice after the change lacks %q:\n%s", want, en2)
		}
	}
	for _, want := range []string{"Prüfen, ob es eine neuere Privox-Version gibt", "nach 10 Tagen anonymisiert"} {
		if !strings.Contains(de2, want) {
			t.Errorf("German notice after the change lacks %q", want)
		}
	}
	if strings.Contains(en2, "anonymised after 7 days") {
		t.Error("old retention still in the notice")
	}
	if !p.App.Flows.Enabled("update_check") {
		t.Error("the live registry was not switched")
	}
	// The public notice is the first tenant's; it has the flow too.
	if pub := getText(t, p, "/api/v1/privacy-notice", ""); !strings.Contains(pub, "newer Privox version") {
		t.Error("public notice lacks the switched-on flow")
	}
	if st, _ := p.Do("GET", o.prefix+"/docs/privacy-notice?lang=fr", o.admin, nil); st != 400 {
		t.Errorf("unsupported language: %d", st)
	}
	rec := getText(t, p, "/api/v1/docs/records", p.AdminToken)
	for _, want := range []string{"Records of processing activities", "| update_check |", "Call detail records for operation", "acme: anonymised after 10 days", "table `cdrs`", "privox docs records"} {
		if !strings.Contains(rec, want) {
			t.Errorf("records lack %q", want)
		}
	}
	if tr := getText(t, p, o.prefix+"/docs/records", o.admin); strings.Contains(tr, "| default |") {
		t.Error("a tenant's records name another tenant")
	}
	so, se, code := p.CLI("docs", "records")
	if code != 0 || !strings.Contains(so, "`update_check` (no destination configured)") || !strings.Contains(so, "acme: anonymised after 10 days") {
		t.Fatalf("privox docs records: %d %s", code, se)
	}
	so, _, code = p.CLI("docs", "privacy-notice", "--tenant", "acme", "--lang", "de")
	if code != 0 || !strings.Contains(so, "nach 10 Tagen anonymisiert") {
		t.Fatalf("privox docs privacy-notice: %d %s", code, so)
	}
	// Switched off again with the CLI, it leaves the documents.
	if _, se, code := p.CLI("flows", "set", "update_check", "off"); code != 0 {
		t.Fatalf("privox flows set: %s", se)
	}
	if en3 := notice("en"); strings.Contains(en3, "newer Privox version") {
		t.Error("flow switched off with the CLI still in the notice")
	}
}

// TestRetentionAPIAndCLI edits rules through both interfaces and runs the sweeper from the CLI:
// with the de preset a CDR older than 7 days is gone and its hourly aggregate remains.
func TestRetentionAPIAndCLI(t *testing.T) {
	ctx := context.Background()
	p := start(t, privoxtest.Options{})
	o := newOrg(t, p, "acme", "de")
	var rules struct {
		Preset string                  `json:"preset"`
		Rules  []privacy.EffectiveRule `json:"rules"`
	}
	p.MustDo(200, "GET", o.prefix+"/retention", o.admin, nil, &rules)
	found := false
	for _, r := range rules.Rules {
		if r.Category == datacat.Traffic && r.Kind == "" && r.Days == 7 && r.Source == "preset:de" {
			found = true
		}
	}
	if rules.Preset != "de" || !found {
		t.Fatalf("rules: %+v", rules)
	}
	st, b := p.Do("PUT", o.prefix+"/retention", o.admin, map[string]any{"category": "personal", "mode": "delete", "days": 5})
	if st != 400 || !strings.Contains(string(b), "no time to count") {
		t.Fatalf("invalid rule: %d %s", st, b)
	}
	if st, _ := p.Do("PUT", "/api/v1/retention", o.admin, map[string]any{"category": "audit", "mode": "delete", "days": 30}); st != 403 {
		t.Fatalf("tenant admin setting installation rules: %d", st)
	}
	so, se, code := p.CLI("retention", "set", "--tenant", "acme", "--category", "user_content/recording", "--mode", "delete", "--days", "20")
	if code != 0 || !strings.Contains(so, "deleted after 20 days") {
		t.Fatalf("privox retention set: %d %s %s", code, so, se)
	}
	so, _, _ = p.CLI("retention", "show", "--tenant", "acme")
	if !strings.Contains(so, "user_content/recording") || !strings.Contains(so, "tenant") || !strings.Contains(so, "preset:de") {
		t.Fatalf("privox retention show:\n%s", so)
	}
	if _, se, code := p.CLI("retention", "set", "--tenant", "acme", "--category", "presence", "--mode", "delete", "--days", "3"); code == 0 || !strings.Contains(se, "never stored") {
		t.Fatalf("presence rule accepted: %s", se)
	}

	old, err := p.App.DB.RecordCall(ctx, store.CDR{TenantID: o.tid, CallID: "old", Caller: "+4930123", Callee: "+4940456", Direction: "inbound", Trunk: "carrier",
		StartAt: ago(8), EndAt: ago(8) + 30000, DurationMS: 30000, Cause: 200}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := p.App.Files.Put(ctx, o.tid, nil, filestore.KindRecording, []byte("r"), ago(21), nil)
	if err != nil {
		t.Fatal(err)
	}
	so, _, code = p.CLI("retention", "run", "--dry-run")
	if code != 0 || !strings.Contains(so, "would remove") || !strings.Contains(so, "cdrs") {
		t.Fatalf("dry run:\n%s", so)
	}
	if n := count(t, p.App.DB, `SELECT COUNT(*) FROM cdrs WHERE id = ?`, old.ID); n != 1 {
		t.Fatal("dry run removed the CDR")
	}
	so, se, code = p.CLI("retention", "run")
	if code != 0 {
		t.Fatalf("privox retention run: %s %s", so, se)
	}
	if n := count(t, p.App.DB, `SELECT COUNT(*) FROM cdrs WHERE id = ?`, old.ID); n != 0 {
		t.Fatal("CDR older than 7 days survived the sweep under the de preset")
	}
	if _, _, err := p.App.Files.Get(ctx, o.tid, rec.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("recording past the tenant's 20 days: %v", err)
	}
	var stats struct {
		Items []store.HourlyStat `json:"items"`
	}
	p.MustDo(200, "GET", o.prefix+"/statistics?source=cdrs", o.admin, nil, &stats)
	if len(stats.Items) != 1 || stats.Items[0].Records != 1 || stats.Items[0].Total != 30000 || !strings.Contains(stats.Items[0].Dims, "trunk=carrier") {
		t.Fatalf("aggregate of the swept CDR: %+v", stats.Items)
	}
	p.MustDo(200, "POST", o.prefix+"/retention/reset", o.admin, map[string]any{"category": "user_content", "kind": "recording"}, nil)
	if st, _ := p.Do("POST", o.prefix+"/retention/reset", o.admin, map[string]any{"category": "user_content", "kind": "recording"}); st != 404 {
		t.Fatalf("second reset: %d", st)
	}
}

// TestAuditAPIAndVerify lists the audit log per tenant and for the operator, verifies the chain
// with the CLI and the API, and detects a line edited with SQL.
func TestAuditAPIAndVerify(t *testing.T) {
	p := start(t, privoxtest.Options{})
	a := newOrg(t, p, "alpha", "default")
	b := newOrg(t, p, "beta", "default")
	a.user(t, "x@alpha.test", "user")
	b.user(t, "y@beta.test", "user")
	var la, all struct {
		Items []store.AuditEntry `json:"items"`
	}
	p.MustDo(200, "GET", a.prefix+"/audit?limit=1000", a.admin, nil, &la)
	if len(la.Items) == 0 {
		t.Fatal("tenant audit empty")
	}
	for _, e := range la.Items {
		if e.TenantID == nil || *e.TenantID != a.tid {
			t.Fatalf("tenant alpha sees entry %+v", e)
		}
	}
	p.MustDo(200, "GET", a.prefix+"/audit?action=user.create", a.admin, nil, &la)
	if len(la.Items) != 2 {
		t.Fatalf("filtered by action: %d entries", len(la.Items))
	}
	if st, _ := p.Do("GET", "/api/v1/audit", a.admin, nil); st != 403 {
		t.Fatalf("tenant admin reading the whole log: %d", st)
	}
	p.MustDo(200, "GET", "/api/v1/audit?limit=1000", p.AdminToken, nil, &all)
	tenants := map[int64]bool{}
	for _, e := range all.Items {
		if e.TenantID != nil {
			tenants[*e.TenantID] = true
		}
	}
	if !tenants[a.tid] || !tenants[b.tid] {
		t.Fatalf("operator does not see every tenant: %v", tenants)
	}
	so, se, code := p.CLI("audit", "verify")
	if code != 0 || !strings.Contains(so, "audit chain ok") {
		t.Fatalf("privox audit verify: %d %s %s", code, so, se)
	}
	victim := all.Items[len(all.Items)/2].ID
	if _, err := p.App.DB.Exec(context.Background(), `UPDATE audit_log SET actor = 'someone else' WHERE id = ?`, victim); err != nil {
		t.Fatal(err)
	}
	so, _, code = p.CLI("audit", "verify")
	if code != 1 || !strings.Contains(so, fmt.Sprintf("entry %d: entry was changed", victim)) || !strings.Contains(so, "BROKEN") {
		t.Fatalf("edited line: %d\n%s", code, so)
	}
	var v privacy.AuditVerification
	p.MustDo(200, "GET", "/api/v1/audit/verify", p.AdminToken, nil, &v)
	if v.OK || v.Problems[0].ID != victim {
		t.Fatalf("API verification: %+v", v)
	}
}

// TestFlowsAndRestriction lists and switches flows (persisted across a restart) and restricts a
// person through the API, which the engine then enforces.
func TestFlowsAndRestriction(t *testing.T) {
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "data")
	p := start(t, privoxtest.Options{DataDir: data})
	o := newOrg(t, p, "acme", "default")
	u := o.user(t, "u@acme.test", "user")
	var fl []struct {
		Name    string `json:"name"`
		Enabled bool   `json:"enabled"`
		Purpose string `json:"purpose"`
	}
	p.MustDo(200, "GET", "/api/v1/flows", o.admin, nil, &fl)
	if len(fl) < 7 {
		t.Fatalf("flows: %+v", fl)
	}
	p.MustDo(200, "PUT", "/api/v1/flows", p.AdminToken, map[string]any{"name": "time_sync", "enabled": true}, nil)
	if st, _ := p.Do("PUT", "/api/v1/flows", p.AdminToken, map[string]any{"name": "telemetry", "enabled": true}); st != 400 {
		t.Fatalf("undeclared flow: %d", st)
	}
	p.MustDo(200, "PUT", fmt.Sprintf("%s/users/%d/restriction", o.prefix, u), o.admin, map[string]any{"reason": "objection pending"}, nil)
	if st, _ := p.Do("PUT", fmt.Sprintf("%s/users/%d/restriction", o.prefix, u), o.token(t, u), map[string]any{"reason": "x"}); st != 403 {
		t.Fatalf("member setting a restriction: %d", st)
	}
	var r store.Restriction
	p.MustDo(200, "GET", fmt.Sprintf("%s/users/%d/restriction", o.prefix, u), o.token(t, u), nil, &r)
	if r.Reason != "objection pending" {
		t.Fatalf("own restriction: %+v", r)
	}
	err := p.App.Privacy.CheckProcessing(ctx, o.tid, u, privacy.PurposeEmailCopy)
	if !errors.Is(err, privacy.ErrRestricted) || !strings.Contains(err.Error(), "email_copy refused") {
		t.Fatalf("restricted e-mail copy: %v", err)
	}
	// Restricted data is not passed on: an admin's export of the person is refused, the
	// person's own export is not.
	if st, body := p.Do("GET", fmt.Sprintf("%s/users/%d/export", o.prefix, u), o.admin, nil); st != 409 || !strings.Contains(string(body), "restricted") {
		t.Fatalf("admin exporting a restricted person: %d %s", st, body)
	}
	if st, _ := p.Do("GET", fmt.Sprintf("%s/users/%d/export", o.prefix, u), o.token(t, u), nil); st != 200 {
		t.Fatalf("own export while restricted: %d", st)
	}
	so, _, _ := p.CLI("restrict", "list", "--tenant", "acme")
	if !strings.Contains(so, "objection pending") {
		t.Fatalf("privox restrict list: %s", so)
	}
	p.MustDo(204, "DELETE", fmt.Sprintf("%s/users/%d/restriction", o.prefix, u), o.admin, nil, nil)
	if err := p.App.Privacy.CheckProcessing(ctx, o.tid, u, privacy.PurposeEmailCopy); err != nil {
		t.Fatalf("after lifting: %v", err)
	}
	p.Stop()

	p2 := start(t, privoxtest.Options{DataDir: data})
	if !p2.App.Flows.SwitchedOn("time_sync") {
		t.Fatal("flow switch lost across a restart")
	}
	if err := p2.App.Flows.Check("time_sync"); !errors.Is(err, flows.ErrNotConfigured) {
		t.Fatalf("switched on without an NTP server: %v", err)
	}
	p2.App.Flows.SetDestination("time_sync", "ntp.example.test:123")
	if err := p2.App.Flows.Check("time_sync"); err != nil {
		t.Fatal(err)
	}
	so, _, _ = p2.CLI("flows", "list")
	if !strings.Contains(so, "time_sync") || !strings.Contains(so, "on") {
		t.Fatalf("privox flows list: %s", so)
	}
}

// TestFsck breaks rows and files the way a crash or an operator could and checks privox fsck
// reports it and --repair mends it.
func TestFsck(t *testing.T) {
	ctx := context.Background()
	p := start(t, privoxtest.Options{})
	o := newOrg(t, p, "acme", "default")
	u := o.user(t, "u@acme.test", "user")
	f1, _ := p.App.Files.Put(ctx, o.tid, &u, filestore.KindFax, []byte("one"), 0, nil)
	f2, _ := p.App.Files.Put(ctx, o.tid, &u, filestore.KindFax, []byte("two"), 0, nil)
	if _, _, code := p.CLI("fsck"); code != 0 {
		t.Fatal("fsck of a consistent store failed")
	}
	os.Remove(p.App.Files.Path(f1))
	os.WriteFile(filepath.Join(filepath.Dir(p.App.Files.Path(f2)), "999999.enc"), []byte("orphan"), 0o600)
	so, _, code := p.CLI("fsck")
	if code != 1 || !strings.Contains(so, "rows without file 1") || !strings.Contains(so, "files without row 1") {
		t.Fatalf("fsck did not report: %d\n%s", code, so)
	}
	// Repair is refused while the server runs, and works once it is stopped.
	if _, se, code := p.CLI("fsck", "--repair"); code != 1 || !strings.Contains(se, "stop it before repairing") {
		t.Fatalf("fsck --repair beside a running server: %d %s", code, se)
	}
	p.Stop()
	if so, se, code := p.CLI("fsck", "--repair"); code != 0 {
		t.Fatalf("fsck --repair: %d %s %s", code, so, se)
	}
	so, _, code = p.CLI("fsck")
	if code != 0 || !strings.Contains(so, "consistent") || !strings.Contains(so, "integrity_check ok") {
		t.Fatalf("after repair: %d\n%s", code, so)
	}
	p = start(t, privoxtest.Options{DataDir: p.DataDir, DSN: p.DSN})
	if got, _, err := p.App.Files.Get(ctx, o.tid, f2.ID); err != nil || string(got) != "two" {
		t.Fatalf("intact file after repair: %q %v", got, err)
	}
}
