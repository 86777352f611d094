package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/privox/privox/internal/api"
	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/voicemail"
)

type created struct {
	ID int64 `json:"id"`
}

type fixture struct {
	p                     *privoxtest.Privox
	tenantA, tenantB      int64
	adminA, adminB        string // tokens
	memberA               string
	userA, userB          int64
	extB, tokB, memberIDA int64
}

// setup makes two ordinary tenants, each with an admin, a member, an extension and a token.
func setup(t *testing.T) *fixture {
	p := privoxtest.Start(t, privoxtest.Options{})
	f := &fixture{p: p}
	op := p.AdminToken
	var ta, tb created
	p.MustDo(201, "POST", "/api/v1/tenants", op, map[string]any{"name": "alpha"}, &ta)
	p.MustDo(201, "POST", "/api/v1/tenants", op, map[string]any{"name": "beta"}, &tb)
	f.tenantA, f.tenantB = ta.ID, tb.ID
	mk := func(tid int64, email, role string) (int64, string) {
		var u created
		p.MustDo(201, "POST", fmt.Sprintf("/api/v1/tenants/%d/users", tid), op, map[string]any{"name": "U " + email, "email": email, "role": role}, &u)
		var tok struct {
			ID    int64  `json:"id"`
			Token string `json:"token"`
		}
		p.MustDo(201, "POST", fmt.Sprintf("/api/v1/tenants/%d/tokens", tid), op, map[string]any{"name": "t", "user_id": u.ID}, &tok)
		return u.ID, tok.Token
	}
	f.userA, f.adminA = mk(f.tenantA, "admin@alpha.test", "admin")
	f.memberIDA, f.memberA = mk(f.tenantA, "member@alpha.test", "user")
	var tokB string
	f.userB, tokB = mk(f.tenantB, "admin@beta.test", "admin")
	f.adminB = tokB
	var e created
	p.MustDo(201, "POST", fmt.Sprintf("/api/v1/tenants/%d/extensions", f.tenantB), f.adminB, map[string]any{"number": "2001", "sip_password": "beta-secret-1", "user_id": f.userB}, &e)
	f.extB = e.ID
	var tk created
	p.MustDo(201, "POST", fmt.Sprintf("/api/v1/tenants/%d/tokens", f.tenantB), f.adminB, map[string]any{"name": "second"}, &tk)
	f.tokB = tk.ID
	return f
}

var param = regexp.MustCompile(`\{([a-z_]+)\}`)

// TestTenantIsolationEveryRoute calls every registered route with tenant B's resources as an
// admin and as a member of tenant A, and requires 403 or 404 every time.
func TestTenantIsolationEveryRoute(t *testing.T) {
	f := setup(t)
	ids := map[string]int64{"tenant": f.tenantB, "user": f.userB, "extension": f.extB, "token": f.tokB}
	// Tenant B's own SMTP relay and its user's objection to e-mail copies are there to be
	// read or changed by tenant A.
	relayB := fmt.Sprintf("/api/v1/tenants/%d/mail-relay", f.tenantB)
	f.p.MustDo(200, "PUT", relayB, f.adminB, map[string]any{"enabled": true, "host": "smtp.beta.test", "mode": "tls", "username": "beta", "password": "beta-relay-pw"}, nil)
	f.p.MustDo(200, "PUT", fmt.Sprintf("/api/v1/tenants/%d/users/%d/objections/email-copy", f.tenantB, f.userB), f.adminB, map[string]any{"objected": true}, nil)
	routes := f.p.App.API.Routes()
	checked := 0
	for _, rt := range routes {
		if !strings.Contains(rt.Path, "{tenant}") {
			continue
		}
		path := param.ReplaceAllStringFunc(rt.Path, func(m string) string {
			name := m[1 : len(m)-1]
			if id, ok := ids[name]; ok {
				return fmt.Sprint(id)
			}
			return "1"
		})
		for _, who := range []struct{ name, tok string }{{"adminA", f.adminA}, {"memberA", f.memberA}} {
			st, body := f.p.Do(rt.Method, path, who.tok, "{}")
			if st != http.StatusForbidden && st != http.StatusNotFound {
				t.Errorf("%s %s as %s of tenant A: status %d, want 403/404: %s", rt.Method, path, who.name, st, body)
			}
			checked++
		}
	}
	if checked < 20 {
		t.Fatalf("only %d route checks", checked)
	}
	// The resources exist and are unchanged: tenant B's admin sees them.
	var rel store.MailRelay
	f.p.MustDo(200, "GET", relayB, f.adminB, nil, &rel)
	if !rel.Enabled || rel.Host != "smtp.beta.test" || !rel.HasPassword {
		t.Errorf("tenant B's relay after tenant A's calls: %+v", rel)
	}
	var ob struct{ Objected bool }
	f.p.MustDo(200, "GET", fmt.Sprintf("/api/v1/tenants/%d/users/%d/objections/email-copy", f.tenantB, f.userB), f.adminB, nil, &ob)
	if !ob.Objected {
		t.Error("tenant B's objection changed by tenant A")
	}
	f.p.MustDo(200, "GET", fmt.Sprintf("/api/v1/tenants/%d/extensions/%d", f.tenantB, f.extB), f.adminB, nil, nil)
	f.p.MustDo(200, "GET", fmt.Sprintf("/api/v1/tenants/%d/users/%d", f.tenantB, f.userB), f.adminB, nil, nil)
	// Operator-only routes refuse tenant admins.
	if st, _ := f.p.Do("GET", "/api/v1/tenants", f.adminA, nil); st != 403 {
		t.Errorf("tenant list as tenant admin: %d", st)
	}
	if st, _ := f.p.Do("POST", "/api/v1/tenants", f.adminA, map[string]any{"name": "evil"}); st != 403 {
		t.Errorf("tenant create as tenant admin: %d", st)
	}
}

func TestMemberSeesOnlySelf(t *testing.T) {
	f := setup(t)
	a := f.tenantA
	f.p.MustDo(200, "GET", fmt.Sprintf("/api/v1/tenants/%d/users/%d", a, f.memberIDA), f.memberA, nil, nil)
	for _, c := range []struct{ method, path string }{
		{"GET", fmt.Sprintf("/api/v1/tenants/%d/users/%d", a, f.userA)},
		{"GET", fmt.Sprintf("/api/v1/tenants/%d/users", a)},
		{"POST", fmt.Sprintf("/api/v1/tenants/%d/users", a)},
		{"POST", fmt.Sprintf("/api/v1/tenants/%d/extensions", a)},
		{"PATCH", fmt.Sprintf("/api/v1/tenants/%d/users/%d", a, f.memberIDA)}, // role change below
	} {
		body := "{}"
		if c.method == "PATCH" {
			body = `{"role":"admin"}`
		}
		if st, b := f.p.Do(c.method, c.path, f.memberA, body); st != 403 {
			t.Errorf("%s %s as member: %d %s", c.method, c.path, st, b)
		}
	}
	if st, _ := f.p.Do("GET", "/api/v1/me", "", nil); st != 401 {
		t.Errorf("unauthenticated /me: %d", st)
	}
	if st, _ := f.p.Do("GET", "/api/v1/me", "pvx_wrong", nil); st != 401 {
		t.Errorf("bad token /me: %d", st)
	}
}

// TestOpenAPIMatchesRoutes keeps the served document identical to the registered routes.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	p.MustDo(200, "GET", "/api/v1/openapi.json", "", nil, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	var inDoc, inRouter []string
	for path, ops := range doc.Paths {
		for m := range ops {
			inDoc = append(inDoc, strings.ToUpper(m)+" "+path)
		}
	}
	for _, rt := range p.App.API.Routes() {
		inRouter = append(inRouter, rt.Method+" "+rt.Path)
	}
	sort.Strings(inDoc)
	sort.Strings(inRouter)
	if strings.Join(inDoc, "\n") != strings.Join(inRouter, "\n") {
		t.Fatalf("document and router differ:\ndoc:\n%s\nrouter:\n%s", strings.Join(inDoc, "\n"), strings.Join(inRouter, "\n"))
	}
	// Every documented operation is served: an unauthenticated call reaches the route (401 or
	// a route's own answer), never the catch-all's "no such endpoint".
	for _, op := range inDoc {
		m, path, _ := strings.Cut(op, " ")
		path = param.ReplaceAllString(path, "1")
		st, body := p.Do(m, path, "", nil)
		if st == 404 && strings.Contains(string(body), "no such endpoint") {
			t.Errorf("%s %s documented but not served", m, path)
		}
	}
}

func count(t *testing.T, p *privoxtest.Privox, tid int64) (users, exts int) {
	ctx := t.Context()
	us, err := p.App.DB.ListUsers(ctx, tid, store.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	es, err := p.App.DB.ListExtensions(ctx, tid, store.Page{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(us), len(es)
}

// TestBadInputChangesNothing sends malformed and invalid requests and checks each gets a clear
// 4xx naming the field, with the store unchanged.
func TestBadInputChangesNothing(t *testing.T) {
	f := setup(t)
	a := f.tenantA
	users := fmt.Sprintf("/api/v1/tenants/%d/users", a)
	exts := fmt.Sprintf("/api/v1/tenants/%d/extensions", a)
	f.p.MustDo(201, "POST", exts, f.adminA, map[string]any{"number": "1001", "sip_password": "alpha-secret"}, nil)
	u0, e0 := count(t, f.p, a)
	cases := []struct {
		name, path, body string
		status           int
		code, field      string
	}{
		{"malformed json", users, `{"name": "x",`, 400, "invalid_json", ""},
		{"not an object", users, `[1,2]`, 400, "invalid_field", ""},
		{"unknown field", users, `{"name":"x","email":"x@y.z","shoe_size":42}`, 400, "unknown_field", "shoe_size"},
		{"empty name", users, `{"name":"","email":"x@y.z"}`, 400, "invalid_field", "name"},
		{"over-long name", users, `{"name":"` + strings.Repeat("n", 201) + `","email":"x@y.z"}`, 400, "invalid_field", "name"},
		{"bad email", users, `{"name":"X","email":"not-an-address"}`, 400, "invalid_field", "email"},
		{"wrong type", users, `{"name":5,"email":"x@y.z"}`, 400, "invalid_field", "name"},
		{"bad role", users, `{"name":"X","email":"x@y.z","role":"root"}`, 400, "invalid_field", "role"},
		{"short password", users, `{"name":"X","email":"x@y.z","password":"short"}`, 400, "invalid_field", "password"},
		{"empty body", users, ``, 400, "invalid_body", ""},
		{"trailing data", users, `{"name":"X","email":"x@y.z"} {}`, 400, "invalid_json", ""},
		{"duplicate number", exts, `{"number":"1001","sip_password":"another-secret"}`, 409, "conflict", "number"},
		{"bad number", exts, `{"number":"12a","sip_password":"another-secret"}`, 400, "invalid_field", "number"},
		{"weak sip password", exts, `{"number":"1002","sip_password":"123"}`, 400, "invalid_field", "sip_password"},
		{"foreign user", exts, fmt.Sprintf(`{"number":"1003","sip_password":"another-secret","user_id":%d}`, f.userB), 400, "invalid_field", "user_id"},
		{"wrong tenant", fmt.Sprintf("/api/v1/tenants/%d/users", f.tenantB), `{"name":"X","email":"x@y.z"}`, 404, "not_found", ""},
		{"huge body", users, `{"name":"` + strings.Repeat("n", 2<<20) + `"}`, 413, "body_too_large", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, body := f.p.Do("POST", c.path, f.adminA, c.body)
			var e struct {
				Error struct{ Code, Message, Field string } `json:"error"`
			}
			json.Unmarshal(body, &e)
			if st != c.status || e.Error.Code != c.code || e.Error.Field != c.field || e.Error.Message == "" {
				t.Errorf("status %d code %q field %q (%s), want %d %q %q", st, e.Error.Code, e.Error.Field, e.Error.Message, c.status, c.code, c.field)
			}
		})
	}
	if u, e := count(t, f.p, a); u != u0 || e != e0 {
		t.Fatalf("store changed: users %d→%d, extensions %d→%d", u0, u, e0, e)
	}
}

func TestSessionCookieAndCSRF(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Post(p.URL+"/api/v1/login", "application/json", strings.NewReader(`{"tenant":"default","email":"admin@localhost","password":"`+privoxtest.AdminPassword+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var lr struct {
		CSRF string `json:"csrf_token"`
	}
	json.NewDecoder(resp.Body).Decode(&lr)
	resp.Body.Close()
	if resp.StatusCode != 200 || lr.CSRF == "" {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	ck := resp.Cookies()
	if len(ck) != 1 || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie flags: %+v", ck)
	}
	r, _ := c.Get(p.URL + "/api/v1/me")
	r.Body.Close()
	if r.StatusCode != 200 {
		t.Fatalf("me with cookie: %d", r.StatusCode)
	}
	post := func(csrf string) int {
		req, _ := http.NewRequest("POST", p.URL+"/api/v1/tenants", strings.NewReader(`{"name":"viacookie"}`))
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		r, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	if st := post(""); st != 403 {
		t.Fatalf("POST without CSRF token: %d", st)
	}
	if st := post(lr.CSRF); st != 201 {
		t.Fatalf("POST with CSRF token: %d", st)
	}
	// Wrong password is refused and throttled after repeated failures.
	for i := 0; i < 12; i++ {
		r, _ := http.Post(p.URL+"/api/v1/login", "application/json", strings.NewReader(`{"tenant":"default","email":"admin@localhost","password":"wrong"}`))
		r.Body.Close()
		if i < 10 && r.StatusCode != 401 {
			t.Fatalf("attempt %d: %d", i, r.StatusCode)
		}
		if i == 11 && r.StatusCode != 429 {
			t.Fatalf("no lock-out after repeated failures: %d", r.StatusCode)
		}
	}
}

func TestPaginationOverAPI(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	for i := 0; i < 7; i++ {
		p.MustDo(201, "POST", "/api/v1/tenants/1/users", p.AdminToken, map[string]any{"name": "P", "email": fmt.Sprintf("p%d@x.test", i)}, nil)
	}
	seen := 0
	after := ""
	for i := 0; i < 10; i++ {
		var l struct {
			Items     []store.User `json:"items"`
			NextAfter *int64       `json:"next_after"`
		}
		p.MustDo(200, "GET", "/api/v1/tenants/1/users?limit=3"+after, p.AdminToken, nil, &l)
		seen += len(l.Items)
		if l.NextAfter == nil {
			break
		}
		after = fmt.Sprintf("&after=%d", *l.NextAfter)
	}
	if seen != 8 {
		t.Fatalf("paged through %d users, want 8", seen)
	}
	if st, _ := p.Do("GET", "/api/v1/tenants/1/users?limit=0", p.AdminToken, nil); st != 400 {
		t.Fatalf("limit=0: %d", st)
	}
}

// idFields are JSON fields of request bodies that name a resource, and the path parameter
// whose kind of resource each names.
var idFields = map[string]string{"user_id": "user", "tenant_id": "tenant", "record_id": "user"}

// bodyFor builds a request body of a route's body type that is valid but for its ids: every
// id field named in ids gets that id (one at a time, so that no "one or the other" rule
// rejects it first), the other fields plausible values (a hold's table only with its record).
func bodyFor(t *testing.T, rt api.Route, field string, ids map[string]int64) map[string]any {
	t.Helper()
	b := map[string]any{}
	typ := reflect.TypeOf(rt.Body)
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct {
		return b
	}
	defaults := map[string]any{"number": "3901", "sip_password": "isolation-secret-1", "name": "isolation", "email": "isolation@alpha.test",
		"password": "isolation-password-1", "reason": "isolation test", "table": "users", "expires_at": time.Now().Add(24 * time.Hour).UnixMilli()}
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		if kind, ok := idFields[name]; ok {
			if name == field {
				b[name] = ids[kind]
			}
			continue
		}
		if v, ok := defaults[name]; ok && (name != "table" || field == "record_id") {
			b[name] = v
		}
	}
	return b
}

// TestTenantIsolationOwnPathForeignIDs is the check behind the router's: an admin and a
// member of tenant A call every route under their OWN tenant's path with tenant B's resource
// ids, in the path, in the query and in the body. The route list comes from the declarations,
// so new routes are covered as they are added; a path parameter with no tenant-B resource
// here fails the test. No answer may succeed on B's resources or show anything of B's, and
// afterwards all of B's resources are as they were.
func TestTenantIsolationOwnPathForeignIDs(t *testing.T) {
	f := setup(t)
	p := f.p
	b := fmt.Sprintf("/api/v1/tenants/%d", f.tenantB)
	// Tenant B's member carries a hold and a restriction whose reasons mark B's data.
	var mb, hold created
	p.MustDo(201, "POST", b+"/users", f.adminB, map[string]any{"name": "Beta Member Marker", "email": "member-marker@beta.test"}, &mb)
	p.MustDo(201, "POST", b+"/holds", f.adminB, map[string]any{"user_id": mb.ID, "reason": "beta-hold-marker", "expires_at": time.Now().Add(48 * time.Hour).UnixMilli()}, &hold)
	p.MustDo(200, "PUT", fmt.Sprintf("%s/users/%d/restriction", b, mb.ID), f.adminB, map[string]any{"reason": "beta-restriction-marker"}, nil)
	p.MustDo(200, "PATCH", fmt.Sprintf("%s/extensions/%d", b, f.extB), f.adminB, map[string]any{"display_name": "Beta Extension Marker"}, nil)
	// A call of B's member: a CDR and a journal entry.
	now := time.Now().UnixMilli()
	if _, err := p.App.DB.RecordCall(t.Context(), store.CDR{TenantID: f.tenantB, CallID: "beta-call-marker", Caller: "2001", Callee: "2002", CallerUserID: &mb.ID,
		Direction: "internal", StartAt: now - 1000, EndAt: now, Cause: 200},
		[]store.JournalEntry{{TenantID: f.tenantB, UserID: mb.ID, CallID: "beta-call-marker", Direction: "out", PeerNumber: "2002", StartAt: now - 1000, Cause: 200}}); err != nil {
		t.Fatal(err)
	}
	// B's phonebook with a contact, an LDAP bind account and a directory source.
	var bookB, contactB, acctB, srcB created
	mk := func(path string, body any, into *created) {
		t.Helper()
		st, res := p.Do("POST", b+path, f.adminB, body)
		if st != http.StatusOK && st != http.StatusCreated {
			t.Fatalf("POST %s as B: %d %s", path, st, res)
		}
		if err := json.Unmarshal(res, into); err != nil || into.ID == 0 {
			t.Fatalf("POST %s as B: %s (%v)", path, res, err)
		}
	}
	mk("/phonebooks", map[string]any{"kind": "company", "name": "Beta Book Marker"}, &bookB)
	mk(fmt.Sprintf("/phonebooks/%d/contacts", bookB.ID), map[string]any{"given_name": "Beta", "family_name": "Contact Marker"}, &contactB)
	mk("/ldap/accounts", map[string]any{"name": "beta-phones"}, &acctB)
	mk("/directory/sources", map[string]any{"phonebook_id": bookB.ID, "name": "Beta Source Marker", "url": "ldaps://ldap.beta.test:636", "base_dn": "dc=beta,dc=test"}, &srcB)
	// B's outbound route and dialling settings.
	p.MustDo(200, "PUT", b+"/trunks/beta-trunk-marker", f.adminB, map[string]any{"kind": "register", "server": "sip.beta-provider-marker.test:5060",
		"username": "beta-user-marker", "password": "beta-password-marker"}, nil)
	p.MustDo(200, "PUT", b+"/outbound-routes/beta-route-marker", f.adminB, map[string]any{"pattern": "_0777X.", "trunks": []string{"beta-trunk-marker"}}, nil)
	p.MustDo(200, "PUT", b+"/dial-settings", f.adminB, map[string]any{"country": "AT", "main_number": "+43 1 5555555"}, nil)
	// A voice message in B's extension's box.
	boxB, err := p.App.DB.EnsureVoicemailBox(t.Context(), f.tenantB, f.extB)
	if err != nil {
		t.Fatal(err)
	}
	msgB, err := p.App.Voicemail.Store(t.Context(), boxB, voicemail.Deposit{CallerNumber: "+4930999111", CallerName: "Beta Voicemail Caller Marker", At: time.Now(), PCM: make([]int16, 16000)})
	if err != nil {
		t.Fatal(err)
	}
	// An e-mail delivery of that message (tenant B has no relay, so it stays pending).
	delivB, err := p.App.DB.EnqueueVoicemailMail(t.Context(), msgB, time.Now().UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	p.MustDo(200, "PUT", b+"/groups/2600", f.adminB, map[string]any{"name": "beta-group-marker", "members": []map[string]any{{"extension": "2001"}}}, nil)
	var didB created
	p.MustDo(200, "POST", b+"/dids", f.adminB, map[string]any{"number": "+43 1 5556000", "last": "+43 1 5556099", "dest_kind": "extension", "dest_number": "2001"}, &didB)
	p.MustDo(200, "PUT", b+"/did-default", f.adminB, map[string]any{"dest_kind": "extension", "dest_number": "2001"}, nil)
	p.MustDo(200, "PUT", fmt.Sprintf("%s/users/%d/caller-id", b, mb.ID), f.adminB, map[string]any{"clir": true}, nil)
	p.MustDo(200, "PUT", fmt.Sprintf("%s/extensions/%d/forwarding", b, f.extB), f.adminB, map[string]any{"busy": "0777999888"}, nil)
	p.MustDo(200, "PUT", b+"/forward-settings", f.adminB, map[string]any{"codes": "always=*4711"}, nil)
	var jobB struct{ ID string }
	p.MustDo(202, "POST", b+"/retention/sweep", f.adminB, map[string]any{"dry_run": true}, &jobB)
	markers := []string{"Beta Voicemail Caller Marker", "+4930999111", "beta-provider-marker", "beta-user-marker", "beta-password-marker", "beta-route-marker", "beta-trunk-marker", "_0777X.", "+4315555555", "Beta Book Marker", "Contact Marker", "Beta Source Marker", "beta-phones", "beta-call-marker", "Beta Member Marker", "Beta Extension Marker", "member-marker@beta.test", "U admin@beta.test", "admin@beta.test", "beta-hold-marker", "beta-restriction-marker", `"second"`, "+4315556000", "beta-group-marker", "0777999888", "*4711"}
	foreign := map[string]int64{"tenant": f.tenantB, "user": mb.ID, "extension": f.extB, "token": f.tokB, "hold": hold.ID,
		"phonebook": bookB.ID, "contact": contactB.ID, "account": acctB.ID, "source": srcB.ID, "message": msgB.ID, "did": didB.ID, "delivery": delivB.ID}
	// A's own resources, for the positive control of body ids.
	var extA created
	p.MustDo(201, "POST", fmt.Sprintf("/api/v1/tenants/%d/extensions", f.tenantA), f.adminA, map[string]any{"number": "1901", "sip_password": "alpha-secret-9"}, &extA)
	own := map[string]int64{"tenant": f.tenantA, "user": f.memberIDA, "extension": extA.ID, "token": 0, "hold": 0}

	leak := func(what string, body []byte) {
		t.Helper()
		for _, m := range markers {
			if strings.Contains(string(body), m) {
				t.Errorf("%s shows tenant B's %s: %.300s", what, m, body)
			}
		}
	}
	// Path parameters that name things per tenant rather than identify them.
	names := map[string]string{"lang": "en", "name": "custom-beta-marker", "menu": "beta-menu-marker", "calendar": "beta-calendar-marker", "route": "beta-route-marker", "trunk": "beta-trunk-marker", "slot": "unavailable", "group": "2600",
		// tenant B's job: job ids are random strings, not numbers
		"job": jobB.ID}
	query := fmt.Sprintf("?user=%d&actor=%d&target_id=%d", mb.ID, mb.ID, mb.ID)
	checked, bodies := 0, 0
	for _, rt := range p.App.API.Routes() {
		if !strings.Contains(rt.Path, "{tenant}") {
			continue
		}
		hasID := false
		path := param.ReplaceAllStringFunc(rt.Path, func(m string) string {
			name := m[1 : len(m)-1]
			if name == "tenant" {
				return fmt.Sprint(f.tenantA)
			}
			if v, ok := names[name]; ok {
				// A name inside the tenant's own namespace, not another tenant's id: the
				// request reaches A's prompt of that name, never B's replacement of it.
				return v
			}
			hasID = true
			id, ok := foreign[name]
			if !ok {
				t.Errorf("%s %s: no tenant-B resource for {%s}; add one to this test", rt.Method, rt.Path, name)
			}
			return fmt.Sprint(id)
		})
		if rt.Method == "GET" {
			path += query
		}
		for _, who := range []struct{ name, tok string }{{"adminA", f.adminA}, {"memberA", f.memberA}} {
			st, body := p.Do(rt.Method, path, who.tok, "{}")
			what := fmt.Sprintf("%s %s as %s", rt.Method, path, who.name)
			if hasID && st != http.StatusForbidden && st != http.StatusNotFound {
				t.Errorf("%s with tenant B's ids: status %d, want 403/404: %.300s", what, st, body)
			}
			leak(what, body)
			checked++
		}
		// Ids in the body: refused with B's, accepted with A's own (so that the refusal was
		// the id's doing, not another field's).
		for field, kind := range idFields {
			if rt.Body == nil || !strings.Contains(fmt.Sprintf("%+v", bodyFor(t, rt, field, foreign)), field) {
				continue
			}
			ownPath := param.ReplaceAllStringFunc(rt.Path, func(m string) string { return fmt.Sprint(own[m[1:len(m)-1]]) })
			st, body := p.Do(rt.Method, ownPath, f.adminA, bodyFor(t, rt, field, foreign))
			what := fmt.Sprintf("%s %s as adminA with %s of tenant B", rt.Method, ownPath, field)
			if st < 300 {
				t.Errorf("%s: status %d: %.300s", what, st, body)
			}
			leak(what, body)
			ownIDs := map[string]int64{kind: own[kind], "tenant": f.tenantA}
			if kind == "user" {
				ownIDs["user"] = f.memberIDA
			}
			if st, body := p.Do(rt.Method, ownPath, f.adminA, bodyFor(t, rt, field, ownIDs)); st >= 300 && st != http.StatusForbidden {
				t.Errorf("%s %s as adminA with its own %s: status %d, so the refusal above proves nothing: %.300s", rt.Method, ownPath, field, st, body)
			}
			bodies++
		}
	}
	t.Logf("%d route checks, %d body checks", checked, bodies)
	if checked < 40 || bodies < 4 {
		t.Fatalf("only %d route checks and %d body checks", checked, bodies)
	}
	// Everything of B's is as it was.
	var u store.User
	p.MustDo(200, "GET", fmt.Sprintf("%s/users/%d", b, mb.ID), f.adminB, nil, &u)
	if !u.Active || u.Name != "Beta Member Marker" {
		t.Errorf("B's member changed: %+v", u)
	}
	p.MustDo(200, "GET", fmt.Sprintf("%s/extensions/%d", b, f.extB), f.adminB, nil, nil)
	p.MustDo(200, "GET", fmt.Sprintf("%s/users/%d/restriction", b, mb.ID), f.adminB, nil, nil)
	var toks struct{ Items []store.APIToken }
	p.MustDo(200, "GET", b+"/tokens", f.adminB, nil, &toks)
	found := false
	for _, tk := range toks.Items {
		found = found || tk.ID == f.tokB
	}
	if !found {
		t.Error("B's token was revoked")
	}
	var holds struct{ Items []store.LegalHold }
	p.MustDo(200, "GET", b+"/holds?open=1", f.adminB, nil, &holds)
	if len(holds.Items) != 1 || holds.Items[0].ID != hold.ID {
		t.Errorf("B's hold: %+v", holds.Items)
	}
}
