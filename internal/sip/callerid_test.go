package sip_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestCallerIDName: 1001 has no display name; the company phonebook knows its number, so the
// called phone rings with the directory's name and the callee's journal shows it.
func TestCallerIDName(t *testing.T) {
	e := start(t, nil)
	var u struct{ ID int64 }
	e.p.MustDo(201, "POST", "/api/v1/tenants/1/users", e.p.AdminToken, map[string]any{"name": "Callee", "email": "callee@example.test"}, &u)
	e.ext("1001", "secret-1001")
	e.ext("1002", "secret-1002", "--user", fmt.Sprint(u.ID))
	var book struct{ ID int64 }
	e.p.MustDo(201, "POST", "/api/v1/tenants/1/phonebooks", e.p.AdminToken, map[string]any{"kind": "company", "name": "Firma"}, &book)
	e.p.MustDo(201, "POST", fmt.Sprintf("/api/v1/tenants/1/phonebooks/%d/contacts", book.ID), e.p.AdminToken,
		map[string]any{"given_name": "Hans", "family_name": "Müller", "numbers": map[string]string{"work": "1001"}}, nil)

	uas := e.newPeer("udp")
	callee := e.sippUAS("callee", "uas.xml", uas)
	e.register("1002", "secret-1002", uas)
	e.sippUAC("caller", "uac.xml", "udp", "-d", "200").wait(t)
	callee.wait(t)
	msgs := callee.messages()
	if !strings.Contains(msgs, `From: "Hans Müller" <sip:1001@`) {
		t.Errorf("the callee's INVITE does not carry the directory's name:\n%s", tail(msgs, 3000))
	}
	waitFor(t, "journal", func() bool {
		st, body := e.p.Do("GET", fmt.Sprintf("/api/v1/tenants/1/users/%d/journal", u.ID), e.p.AdminToken, nil)
		return st == 200 && strings.Contains(string(body), `"peer_name": "Hans Müller"`)
	})
}
