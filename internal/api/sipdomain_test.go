package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	gosip "github.com/emiago/sipgo/sip"

	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
)

// register sends a REGISTER for user@domain from a sipgo user agent on ip, answers the digest
// challenge with password and returns the final status.
func register(t *testing.T, p *privoxtest.Privox, ip, domain, user, password string) int {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("privox-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	c, err := sipgo.NewClient(ua, sipgo.WithClientHostname(ip), sipgo.WithClientConnectionAddr(ip+":0"))
	if err != nil {
		t.Fatal(err)
	}
	tag := gosip.NewParams()
	tag.Add("tag", gosip.GenerateTagN(8))
	req := gosip.NewRequest(gosip.REGISTER, gosip.Uri{Scheme: "sip", Host: domain})
	req.SetDestination(p.Addr("sip-udp"))
	req.AppendHeader(&gosip.FromHeader{Address: gosip.Uri{Scheme: "sip", User: user, Host: domain}, Params: tag})
	req.AppendHeader(&gosip.ToHeader{Address: gosip.Uri{Scheme: "sip", User: user, Host: domain}})
	req.AppendHeader(&gosip.ContactHeader{Address: gosip.Uri{Scheme: "sip", User: user, Host: ip, Port: 5999}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.Do(ctx, req)
	if err != nil {
		t.Fatalf("REGISTER %s@%s: %v", user, domain, err)
	}
	if res.StatusCode == 401 {
		if res, err = c.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: user, Password: password}); err != nil {
			t.Fatalf("REGISTER %s@%s with credentials: %v", user, domain, err)
		}
	}
	return res.StatusCode
}

func apiError(body []byte) (code, field string) {
	var e struct {
		Error struct{ Code, Field string } `json:"error"`
	}
	json.Unmarshal(body, &e)
	return e.Error.Code, e.Error.Field
}

// TestSIPDomainTakeover: a tenant admin cannot move its tenant onto another tenant's SIP
// domain (in any case) and so cannot register as that tenant's extensions; an operator's
// domain change is audited, a domain stays unique without regard to case, and neither a new
// domain nor a rename changes the realm that the stored HA1 values were computed for.
func TestSIPDomainTakeover(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	// The SIP server caches tenants and accounts; this test wants every REGISTER to see the
	// store as it is now.
	pol := p.App.SIP().Policy()
	pol.UnknownUserTTL = 0
	p.App.SIP().SetPolicy(pol)
	op := p.AdminToken
	var alpha, beta store.Tenant
	p.MustDo(201, "POST", "/api/v1/tenants", op, map[string]any{"name": "alpha", "sip_domain": "alpha.example"}, &alpha)
	p.MustDo(201, "POST", "/api/v1/tenants", op, map[string]any{"name": "beta", "sip_domain": "Beta.Example"}, &beta)
	if beta.SIPDomain != "beta.example" || beta.SIPRealm != "beta.example" {
		t.Fatalf("beta stored as %+v, want domain and realm beta.example", beta)
	}
	var u struct {
		ID int64 `json:"id"`
	}
	p.MustDo(201, "POST", fmt.Sprintf("/api/v1/tenants/%d/users", alpha.ID), op, map[string]any{"name": "Alpha Admin", "email": "admin@alpha.test", "role": "admin"}, &u)
	var tok struct {
		Token string `json:"token"`
	}
	p.MustDo(201, "POST", fmt.Sprintf("/api/v1/tenants/%d/tokens", alpha.ID), op, map[string]any{"name": "t", "user_id": u.ID}, &tok)
	adminA := tok.Token
	p.MustDo(201, "POST", fmt.Sprintf("/api/v1/tenants/%d/extensions", beta.ID), op, map[string]any{"number": "2001", "sip_password": "beta-secret-1"}, nil)
	p.MustDo(201, "POST", fmt.Sprintf("/api/v1/tenants/%d/extensions", alpha.ID), adminA, map[string]any{"number": "2001", "sip_password": "alpha-secret-1"}, nil)
	if st := register(t, p, "127.0.0.3", "beta.example", "2001", "beta-secret-1"); st != 200 {
		t.Fatalf("beta's phone: REGISTER %d", st)
	}

	// The tenant admin of alpha tries to take beta's domain.
	alphaPath := fmt.Sprintf("/api/v1/tenants/%d", alpha.ID)
	for _, d := range []string{"beta.example", "BETA.example", "elsewhere.example"} {
		st, body := p.Do("PATCH", alphaPath, adminA, map[string]any{"sip_domain": d})
		if code, field := apiError(body); st != 403 || field != "sip_domain" {
			t.Errorf("tenant admin sets sip_domain %q: %d %s %s", d, st, code, field)
		}
	}
	// A tenant admin may still change what is theirs to change.
	p.MustDo(200, "PATCH", alphaPath, adminA, map[string]any{"admin_contact": "it@alpha.test", "sip_domain": "alpha.example"}, nil)
	if st := register(t, p, "127.0.0.3", "beta.example", "2001", "alpha-secret-1"); st == 200 {
		t.Fatal("alpha's password registered in beta's domain")
	}
	// Not even an operator gives one domain to two tenants, in whatever case.
	for _, d := range []string{"beta.example", "BETA.EXAMPLE", "beta.example."} {
		st, body := p.Do("PATCH", alphaPath, op, map[string]any{"sip_domain": d})
		if code, field := apiError(body); st != 409 || code != "conflict" || field != "sip_domain" {
			t.Errorf("operator sets alpha's sip_domain to %q: %d %s %s", d, st, code, field)
		}
	}
	if st, body := p.Do("POST", "/api/v1/tenants", op, map[string]any{"name": "gamma", "sip_domain": "bEta.example"}); st != 409 {
		t.Errorf("new tenant with beta's domain: %d %s", st, body)
	}
	if _, err := p.App.DB.CreateTenant(t.Context(), store.Tenant{Name: "delta", SIPDomain: "BETA.EXAMPLE"}); err == nil {
		t.Error("the store accepted a second tenant with beta's domain")
	}
	got, err := p.App.DB.TenantBySIPDomain(t.Context(), "BETA.example")
	if err != nil || got.ID != beta.ID {
		t.Fatalf("beta.example serves %+v %v", got, err)
	}

	// An operator moves alpha to a new domain: audited, and alpha's phones keep their HA1.
	p.MustDo(200, "PATCH", alphaPath, op, map[string]any{"sip_domain": "alpha2.example"}, nil)
	var audit struct{ Items []store.AuditEntry }
	p.MustDo(200, "GET", fmt.Sprintf("%s/audit?action=tenant.sip_domain", alphaPath), op, nil, &audit)
	if len(audit.Items) != 1 || audit.Items[0].Detail != `"alpha.example" -> "alpha2.example"` {
		t.Errorf("audit of the domain change: %+v", audit.Items)
	}
	if st := register(t, p, "127.0.0.3", "alpha2.example", "2001", "alpha-secret-1"); st != 200 {
		t.Errorf("alpha's phone after the domain change: REGISTER %d", st)
	}

	// Renaming the first tenant (realm "default", no SIP domain) keeps its phones registering.
	p.MustDo(201, "POST", "/api/v1/tenants/1/extensions", op, map[string]any{"number": "1001", "sip_password": "default-secret-1"}, nil)
	if st := register(t, p, "127.0.0.3", "127.0.0.1", "1001", "default-secret-1"); st != 200 {
		t.Fatalf("before the rename: REGISTER %d", st)
	}
	var renamed store.Tenant
	p.MustDo(200, "PATCH", "/api/v1/tenants/1", op, map[string]any{"name": "headquarters"}, &renamed)
	if renamed.Name != "headquarters" || renamed.SIPRealm != "default" {
		t.Fatalf("renamed tenant: %+v", renamed)
	}
	if st := register(t, p, "127.0.0.3", "127.0.0.1", "1001", "default-secret-1"); st != 200 {
		t.Errorf("after the rename: REGISTER %d", st)
	}
}
