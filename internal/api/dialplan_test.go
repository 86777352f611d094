package api_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/privox/privox/internal/dialplan"
	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/store"
)

func TestDialplanRoutesAndExplain(t *testing.T) {
	f := setup(t)
	p := f.p
	a := fmt.Sprintf("/api/v1/tenants/%d", f.tenantA)
	p.MustDo(201, "POST", a+"/extensions", f.adminA, map[string]any{"number": "1001", "sip_password": "alpha-secret-1", "user_id": f.memberIDA}, nil)
	var set store.DialSettings
	p.MustDo(200, "PUT", a+"/dial-settings", f.adminA, map[string]any{"country": "de", "main_number": "030 1234567"}, &set)
	if set.Country != "DE" || set.MainNumber != "+49301234567" {
		t.Fatalf("settings %+v", set)
	}
	var tr store.Trunk
	p.MustDo(200, "PUT", a+"/trunks/carrier", f.adminA, map[string]any{"kind": "register", "server": "sip.carrier.test:5060", "failover": "sip2.carrier.test:5060",
		"username": "alpha-1", "password": "carrier-secret-77"}, &tr)
	if !tr.HasPassword || tr.Username != "alpha-1" || tr.RegisterExpires != 300 || tr.Transport != "udp" {
		t.Fatalf("trunk %+v", tr)
	}
	var sealed string
	if err := p.App.DB.QueryRow(t.Context(), `SELECT secret_sealed FROM trunk_credentials WHERE trunk_id = ?`, tr.ID).Scan(&sealed); err != nil ||
		strings.Contains(sealed, "carrier-secret-77") || !keys.IsSealed(sealed) {
		t.Fatalf("stored password %q (%v)", sealed, err)
	}
	if pw, err := p.App.Vault.OpenSecret(f.tenantA, dialplan.TrunkSecretBinding(tr.ID), sealed); err != nil || pw != "carrier-secret-77" {
		t.Fatalf("sealed password opens to %q (%v)", pw, err)
	}
	// Replacing the trunk without a password keeps the stored one.
	p.MustDo(200, "PUT", a+"/trunks/carrier", f.adminA, map[string]any{"kind": "register", "server": "sip.carrier.test:5061", "transport": "tcp", "username": "alpha-1"}, &tr)
	if !tr.HasPassword || tr.Transport != "tcp" {
		t.Fatalf("trunk after replace %+v", tr)
	}
	if _, body := p.Do("GET", a+"/trunks", f.adminA, nil); strings.Contains(string(body), "carrier-secret-77") || strings.Contains(string(body), sealed) {
		t.Errorf("trunk list shows the password: %s", body)
	}
	p.MustDo(200, "PUT", a+"/trunks/backup", f.adminA, map[string]any{"kind": "ip", "server": "192.0.2.20:5060", "allowed_sources": []string{"192.0.2.20", "198.51.100.7/24"}}, &tr)
	if strings.Join(tr.AllowedSources, ",") != "192.0.2.20/32,198.51.100.0/24" {
		t.Errorf("allowed sources %v", tr.AllowedSources)
	}
	p.MustDo(200, "PUT", a+"/outbound-routes/national", f.adminA, map[string]any{"pattern": "_0[1-9]X.", "trunks": []string{"carrier", "backup"}, "position": 2}, nil)
	p.MustDo(200, "PUT", a+"/outbound-routes/world", f.adminA, map[string]any{"pattern": "_00X.", "trunks": []string{"carrier"}, "position": 1}, nil)
	var list struct{ Items []store.OutboundRoute }
	p.MustDo(200, "GET", a+"/outbound-routes", f.adminA, nil, &list)
	if len(list.Items) != 2 || list.Items[0].Name != "world" || !list.Items[1].E164 {
		t.Fatalf("routes %+v", list.Items)
	}
	explain := func(from, to string) dialplan.Decision {
		t.Helper()
		var d dialplan.Decision
		p.MustDo(200, "GET", a+"/route-explain?from="+from+"&to="+url.QueryEscape(to), f.adminA, nil, &d)
		return d
	}
	d := explain("1001", "0049301234567")
	if d.Stage != "outbound" || d.Dest == nil || d.Dest.Route != "world" || d.Dest.Number != "+49301234567" || d.Dest.Class != dialplan.ClassNational {
		t.Errorf("explain 0049301234567: %+v", d)
	}
	var stages []string
	for _, st := range d.Trace {
		stages = append(stages, st.Stage)
	}
	if strings.Join(stages, ",") != "time,did,feature,forward,extension,group,application,mailbox,clir,outbound" || d.Trace[4].Decided || !d.Trace[9].Decided {
		t.Errorf("trace %+v", d.Trace)
	}
	d = explain("1001", "00442079460000")
	if d.Status != 403 || d.Blocked != "international" {
		t.Errorf("explain international: %+v", d)
	}
	d = explain("1001", "1001")
	if d.Stage != "extension" || d.Status != 480 {
		t.Errorf("explain unregistered extension: %+v", d)
	}
	// Allowing international calls changes the verdict at once.
	p.MustDo(200, "PUT", a+"/dial-settings", f.adminA, map[string]any{"country": "DE", "allow_international": true}, nil)
	if d = explain("1001", "00442079460000"); d.Dest == nil || d.Dest.Class != dialplan.ClassInternational {
		t.Errorf("explain international, allowed: %+v", d)
	}
	// Explanations audit nothing; a blocked call would.
	var audit struct{ Items []store.AuditEntry }
	p.MustDo(200, "GET", a+"/audit", f.adminA, nil, &audit)
	for _, e := range audit.Items {
		if e.Action == "call.blocked" {
			t.Errorf("explanation audited: %+v", e)
		}
	}
	// Bad input: clear errors naming the field, nothing stored.
	for _, c := range []struct {
		path  string
		body  map[string]any
		field string
		msg   string
	}{
		{"/outbound-routes/bad", map[string]any{"pattern": "_0[9-1]X", "trunks": []string{"c"}}, "pattern", "bad range"},
		{"/outbound-routes/bad", map[string]any{"pattern": "_0X.X", "trunks": []string{"c"}}, "pattern", "may only end a pattern"},
		{"/outbound-routes/bad", map[string]any{"pattern": "_0X.", "trunks": []string{}}, "trunks", "1 to 8 trunks"},
		{"/outbound-routes/bad", map[string]any{"pattern": "_0X.", "trunks": []string{"c"}, "prepend": "0a"}, "prepend", "not a digit"},
		{"/outbound-routes/bad%20name", map[string]any{"pattern": "_0X.", "trunks": []string{"c"}}, "name", "letters, digits"},
		{"/outbound-routes/bad", map[string]any{"pattern": "_0X.", "trunks": []string{"nosuch"}}, "trunks", "no trunk"},
		{"/trunks/bad", map[string]any{"kind": "register", "server": "sip.x.test:5060", "username": "u"}, "password", "required"},
		{"/trunks/bad", map[string]any{"kind": "register", "server": "sip.x.test", "username": "u", "password": "p"}, "server", "host:port"},
		{"/trunks/bad", map[string]any{"kind": "register", "server": "sip.x.test:5060", "username": "u", "password": "p", "register_expires": 999999}, "register_expires", "60 to 86400"},
		{"/trunks/bad", map[string]any{"kind": "ip", "server": "sip.x.test:5060"}, "allowed_sources", "1 to 32"},
		{"/trunks/bad", map[string]any{"kind": "ip", "server": "sip.x.test:5060", "allowed_sources": []string{"not-an-ip"}}, "allowed_sources", "not an address"},
		{"/trunks/bad", map[string]any{"kind": "sms", "server": "sip.x.test:5060"}, "kind", "register or ip"},
		{"/trunks/bad", map[string]any{"kind": "ip", "server": "sip.x.test:5060", "transport": "sctp", "allowed_sources": []string{"192.0.2.1"}}, "transport", "udp, tcp or tls"},
		{"/dial-settings", map[string]any{"country": "XY"}, "country", "not an ISO 3166"},
		{"/dial-settings", map[string]any{"country": "DE", "main_number": "12"}, "main_number", "not a valid number"},
	} {
		st, body := p.Do("PUT", a+c.path, f.adminA, c.body)
		if st != 400 || !strings.Contains(string(body), `"field": "`+c.field+`"`) || !strings.Contains(string(body), c.msg) {
			t.Errorf("PUT %s %v: %d %s", c.path, c.body, st, body)
		}
	}
	if st, _ := p.Do("GET", a+"/outbound-routes/bad", f.adminA, nil); st != 404 {
		t.Errorf("invalid route stored: %d", st)
	}
	if st, body := p.Do("GET", a+"/route-explain?from=4711&to=0301234567", f.adminA, nil); st != 400 || !strings.Contains(string(body), "from") {
		t.Errorf("explain from a non-extension: %d %s", st, body)
	}
	if st, _ := p.Do("GET", a+"/route-explain?from=1001&to=0301234567", f.memberA, nil); st != 403 {
		t.Errorf("explain as member: %d", st)
	}
	if st, body := p.Do("DELETE", a+"/trunks/carrier", f.adminA, nil); st != 409 {
		t.Errorf("deleting a trunk in use: %d %s", st, body)
	}
	p.MustDo(204, "DELETE", a+"/outbound-routes/world", f.adminA, nil, nil)
	if d = explain("1001", "0049301234567"); d.Status != 404 {
		t.Errorf("after deleting the route: %+v", d)
	}
}
