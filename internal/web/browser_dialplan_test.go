package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/privox/privox/internal/privoxtest"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/voicemail"
)

// invalidFields are the ids of the page's fields marked invalid.
func invalidFields() chromedp.Action[string] {
	return chromedp.Evaluate[string](`Array.from(document.querySelectorAll("[aria-invalid=true]")).map(e => e.id).join(",")`)
}

// TestBrowserTrunksDIDsGroupsMailboxes: an admin sees the trunks (with their kind and
// registration state) and ring groups made through the API, adds an inbound range in the
// DID form (the dial plan's field errors shown at their fields first) and deletes it after
// the confirmation, and switches a voicemail box on and off again; in English and German.
func TestBrowserTrunksDIDsGroupsMailboxes(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	ctx := chrome(t, t.TempDir())
	def := defaultTenant(t, p)
	tb := fmt.Sprintf("/api/v1/tenants/%d", def.ID)
	tp := func(path string) string { return fmt.Sprintf("%s/t/%d%s", p.URL, def.ID, path) }
	p.MustDo(200, "PUT", tb+"/dial-settings", p.AdminToken, map[string]any{"country": "DE", "main_number": "+49 30 1234000"}, nil)
	p.MustDo(200, "PUT", tb+"/trunks/carrier", p.AdminToken, map[string]any{"kind": "register", "server": "sip.carrier.test:5060", "username": "acct-1", "password": "carrier-secret-1"}, nil)
	p.MustDo(200, "PUT", tb+"/trunks/office-pbx", p.AdminToken, map[string]any{"kind": "ip", "server": "192.0.2.10:5060", "allowed_sources": []string{"192.0.2.10"}, "transport": "tcp"}, nil)
	var e1, e2 store.Extension
	p.MustDo(201, "POST", tb+"/extensions", p.AdminToken, map[string]any{"number": "401", "sip_password": "ext-secret-401"}, &e1)
	p.MustDo(201, "POST", tb+"/extensions", p.AdminToken, map[string]any{"number": "402", "sip_password": "ext-secret-402"}, &e2)
	p.MustDo(201, "POST", tb+"/extensions", p.AdminToken, map[string]any{"number": "403", "sip_password": "ext-secret-403"}, nil)
	p.MustDo(200, "PUT", tb+"/groups/600", p.AdminToken, map[string]any{"name": "Sales <i>team</i>", "strategy": "sequential", "ring_time_s": 15,
		"members": []map[string]any{{"extension": "401"}, {"extension": "402", "ring_time_s": 10}}, "fallthrough_kind": "extension", "fallthrough_number": "403"}, nil)
	signIn(t, ctx, p.URL, "default", "admin@localhost", privoxtest.AdminPassword)

	// Trunks.
	var names, kinds, servers, states []string
	run(t, ctx, "trunks",
		chromedp.Click(chromedp.CSS(`nav a[href$="/trunks"]`)),
		chromedp.WaitVisible(chromedp.ID("#trunk-state-carrier")),
		into(columnTexts(0), &names), into(columnTexts(1), &kinds), into(columnTexts(3), &servers), into(columnTexts(5), &states),
	)
	if strings.Join(names, ",") != "carrier,office-pbx" || strings.Join(kinds, ",") != "registering,IP-authenticated" ||
		strings.Join(servers, ",") != "sip.carrier.test:5060,192.0.2.10:5060" || states[1] != "no registration" || states[0] == "" {
		t.Fatalf("trunks: %q %q %q %q", names, kinds, servers, states)
	}
	var body string
	run(t, ctx, "trunk page text", into(chromedp.Text(chromedp.CSS("main")), &body))
	if strings.Contains(body, "carrier-secret-1") {
		t.Fatal("the trunks page shows a trunk password")
	}
	shot(t, ctx, "trunks-en")

	// Groups.
	var row string
	run(t, ctx, "groups", chromedp.Click(chromedp.CSS(`nav a[href$="/groups"]`)), chromedp.WaitVisible(chromedp.ID("#group-600")),
		into(chromedp.Text(chromedp.ID("#group-600")), &row))
	for _, want := range []string{"600", "Sales <i>team</i>", "one after another", "15 s", "401, 402 (10 s)", "extension 403"} {
		if !strings.Contains(row, want) {
			t.Fatalf("group row %q lacks %q", row, want)
		}
	}
	shot(t, ctx, "groups-en")

	// DIDs: a range whose end comes first, then a destination that does not exist, then a good one.
	var invalid, msg string
	run(t, ctx, "did range backwards",
		chromedp.Click(chromedp.CSS(`nav a[href$="/dids"]`)),
		chromedp.WaitVisible(chromedp.ID("#add-did")),
		chromedp.SendKeys(chromedp.ID("#number"), "+49 30 1234599"),
		chromedp.SendKeys(chromedp.ID("#last"), "+49 30 1234500"),
		chromedp.SendKeys(chromedp.ID("#dest_number"), "401"),
		chromedp.Click(chromedp.ID("#add-did")),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		into(invalidFields(), &invalid),
		into(chromedp.Text(chromedp.ID("#form-error")), &msg),
	)
	if invalid != "last" || !strings.Contains(msg, "comes before") {
		t.Fatalf("backwards range: invalid %q, message %q", invalid, msg)
	}
	shot(t, ctx, "dids-error-en")
	run(t, ctx, "did to nowhere",
		chromedp.SetValue(chromedp.ID("#number"), "+49 30 1234500"),
		chromedp.SetValue(chromedp.ID("#last"), "+49 30 1234599"),
		chromedp.SetValue(chromedp.ID("#dest_number"), "499"),
		chromedp.Click(chromedp.ID("#add-did")),
		chromedp.WaitVisible(chromedp.CSS(`#dest_number[aria-invalid="true"]`)),
		into(chromedp.Text(chromedp.ID("#form-error")), &msg),
	)
	var dl struct{ Items []store.DID }
	p.MustDo(200, "GET", tb+"/dids", p.AdminToken, nil, &dl)
	if len(dl.Items) != 0 {
		t.Fatalf("refused DIDs were stored: %+v (last message %q)", dl.Items, msg)
	}
	var numbers, lasts, dests []string
	run(t, ctx, "add did",
		chromedp.SetValue(chromedp.ID("#dest_number"), "600"),
		chromedp.SetValue(chromedp.ID("#dest_kind"), "group"),
		chromedp.Click(chromedp.ID("#add-did")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
		into(columnTexts(0), &numbers), into(columnTexts(1), &lasts), into(columnTexts(3), &dests),
	)
	p.MustDo(200, "GET", tb+"/dids", p.AdminToken, nil, &dl)
	if len(dl.Items) != 1 || dl.Items[0].Number != "+49301234500" || dl.Items[0].Last != "+49301234599" || dl.Items[0].DestKind != "group" || dl.Items[0].DestNumber != "600" {
		t.Fatalf("stored DIDs: %+v", dl.Items)
	}
	if strings.Join(numbers, ",") != "+49301234500" || strings.Join(lasts, ",") != "+49301234599" || strings.Join(dests, ",") != "600" {
		t.Fatalf("DID table: %q %q %q", numbers, lasts, dests)
	}
	shot(t, ctx, "dids-en")
	id := dl.Items[0].ID
	run(t, ctx, "delete did",
		chromedp.Click(chromedp.ID(fmt.Sprintf("#delete-did-%d", id))),
		chromedp.WaitVisible(chromedp.ID(fmt.Sprintf("#confirm-delete-did-%d", id))),
		chromedp.Click(chromedp.ID(fmt.Sprintf("#confirm-delete-did-%d", id))),
		chromedp.WaitNotPresent(chromedp.ID(fmt.Sprintf("#did-%d", id))),
	)
	p.MustDo(200, "GET", tb+"/dids", p.AdminToken, nil, &dl)
	if len(dl.Items) != 0 {
		t.Fatalf("DIDs after deleting: %+v", dl.Items)
	}

	// Mailboxes: every box with its count; switch one off and on.
	b1, err := p.App.DB.EnsureVoicemailBox(t.Context(), def.ID, e1.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := p.App.Voicemail.Store(t.Context(), b1, voicemail.Deposit{CallerNumber: "+4930999", At: time.Now(), PCM: make([]int16, 8000)}); err != nil {
			t.Fatal(err)
		}
	}
	// Boxes start switched off: the extension's unanswered calls fail until an admin (or the
	// API) switches the box on.
	var total, state string
	run(t, ctx, "mailboxes",
		chromedp.Click(chromedp.CSS(`nav a[href$="/mailboxes"]`)),
		chromedp.WaitVisible(chromedp.ID(fmt.Sprintf("#enable-%d", e1.ID))),
		into(columnTexts(0), &numbers),
		into(chromedp.Text(chromedp.ID(fmt.Sprintf("#box-total-%d", e1.ID))), &total),
	)
	if strings.Join(numbers, ",") != "401,402,403" || total != "2" {
		t.Fatalf("mailboxes %q, 401 holds %q", numbers, total)
	}
	boxOf := func() store.VoicemailBox {
		var b store.VoicemailBox
		p.MustDo(200, "GET", fmt.Sprintf("%s/extensions/%d/voicemail", tb, e1.ID), p.AdminToken, nil, &b)
		return b
	}
	run(t, ctx, "switch on",
		chromedp.Click(chromedp.ID(fmt.Sprintf("#enable-%d", e1.ID))),
		chromedp.WaitVisible(chromedp.ID(fmt.Sprintf("#disable-%d", e1.ID))),
		into(chromedp.Text(chromedp.ID(fmt.Sprintf("#box-state-%d", e1.ID))), &state),
	)
	if state != "takes calls" || !boxOf().Enabled {
		t.Fatalf("after switching on: page %q, enabled %v", state, boxOf().Enabled)
	}
	shot(t, ctx, "mailboxes-en")
	run(t, ctx, "switch off",
		chromedp.Click(chromedp.ID(fmt.Sprintf("#disable-%d", e1.ID))),
		chromedp.WaitVisible(chromedp.ID(fmt.Sprintf("#enable-%d", e1.ID))),
		into(chromedp.Text(chromedp.ID(fmt.Sprintf("#box-state-%d", e1.ID))), &state),
	)
	if state != "switched off" || boxOf().Enabled {
		t.Fatalf("after switching off: page %q, enabled %v", state, boxOf().Enabled)
	}
	// The box's settings: a message length under the minimum is refused at its field and
	// nothing changes; then German prompts, 2 minutes, 50 messages, 30 days, operator 402.
	run(t, ctx, "box settings refused",
		chromedp.Click(chromedp.ID(fmt.Sprintf("#edit-email-%d", e1.ID))),
		chromedp.WaitVisible(chromedp.ID("#box-settings")),
		chromedp.SetValue(chromedp.ID("#max_message_secs"), "5"),
		chromedp.Click(chromedp.ID("#save-settings")),
		chromedp.WaitVisible(chromedp.ID("#form-error")),
		into(invalidFields(), &invalid), into(chromedp.Text(chromedp.ID("#form-error")), &msg),
	)
	before := boxOf()
	if invalid != "max_message_secs" || before.MaxMessageSecs == 5 {
		t.Fatalf("message length 5 s: invalid %q, message %q, stored %d", invalid, msg, before.MaxMessageSecs)
	}
	run(t, ctx, "box settings saved",
		chromedp.SetValue(chromedp.ID("#language"), "de"),
		chromedp.SetValue(chromedp.ID("#max_message_secs"), "120"),
		chromedp.SetValue(chromedp.ID("#max_messages"), "50"),
		chromedp.SetValue(chromedp.ID("#retention_days"), "30"),
		chromedp.SetValue(chromedp.ID("#operator"), "402"),
		chromedp.Click(chromedp.ID("#save-settings")),
		chromedp.WaitVisible(chromedp.CSS(".flash")),
	)
	if b := boxOf(); b.Language != "de" || b.MaxMessageSecs != 120 || b.MaxMessages != 50 || b.RetentionDays != 30 || b.Operator != "402" {
		t.Fatalf("stored settings %+v", b)
	}
	shot(t, ctx, "mailbox-settings-en")

	// German.
	admin, err := p.App.DB.UserByEmail(t.Context(), def.ID, "admin@localhost")
	if err != nil {
		t.Fatal(err)
	}
	p.MustDo(200, "PATCH", fmt.Sprintf("%s/users/%d", tb, admin.ID), p.AdminToken, map[string]string{"language": "de"}, nil)
	for _, pg := range []struct{ path, h1 string }{{"/trunks", "SIP-Amtsleitungen"}, {"/dids", "Eingehende Rufnummern (Durchwahlen)"}, {"/groups", "Rufgruppen und Sammelanschlüsse"}, {"/mailboxes", "Sprachboxen"}} {
		var h1 string
		run(t, ctx, pg.path+" (de)", chromedp.Navigate(tp(pg.path)), chromedp.WaitVisible(chromedp.CSS("main table")), into(chromedp.Text(chromedp.CSS("h1")), &h1))
		if h1 != pg.h1 {
			t.Errorf("German %s: heading %q, want %q", pg.path, h1, pg.h1)
		}
		shot(t, ctx, strings.TrimPrefix(pg.path, "/")+"-de")
	}

	// A user of the tenant reaches none of these pages.
	p.MustDo(201, "POST", tb+"/users", p.AdminToken, map[string]string{"name": "Uma", "email": "uma@example.test", "password": "uma-long-password"}, nil)
	run(t, ctx, "sign out", chromedp.Click(chromedp.CSS(".top button")), chromedp.WaitVisible(chromedp.ID("#signin")))
	signIn(t, ctx, p.URL, "default", "uma@example.test", "uma-long-password")
	for _, path := range []string{"/trunks", "/dids", "/groups", "/mailboxes"} {
		run(t, ctx, "user on "+path, chromedp.Navigate(tp(path)), into(chromedp.Text(chromedp.CSS("main")), &body))
		if !strings.Contains(body, "may not") || strings.Contains(body, "carrier") || strings.Contains(body, "401") {
			t.Errorf("a user on %s sees:\n%s", path, body)
		}
	}
}
