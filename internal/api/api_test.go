package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
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
	// The resources exist: tenant B's admin sees them.
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
