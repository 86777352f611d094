package api_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/privox/privox/internal/voicemail"
)

// A user lists the boxes of their own extensions (with counts), not a colleague's; an admin
// lists anyone's of the tenant.
func TestUserVoicemailBoxes(t *testing.T) {
	f := setup(t)
	p := f.p
	a := fmt.Sprintf("/api/v1/tenants/%d", f.tenantA)
	var own, other created
	p.MustDo(201, "POST", a+"/extensions", f.adminA, map[string]any{"number": "1201", "sip_password": "alpha-secret-21", "user_id": f.memberIDA}, &own)
	p.MustDo(201, "POST", a+"/extensions", f.adminA, map[string]any{"number": "1202", "sip_password": "alpha-secret-22", "user_id": f.userA}, &other)
	b, err := p.App.DB.EnsureVoicemailBox(t.Context(), f.tenantA, own.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.App.Voicemail.Store(t.Context(), b, voicemail.Deposit{CallerNumber: "0301111", At: time.Now(), PCM: make([]int16, 8000)}); err != nil {
		t.Fatal(err)
	}
	type boxes struct {
		Items []struct {
			ExtensionID int64  `json:"extension_id"`
			Number      string `json:"number"`
			Summary     struct{ Total, Unread int }
		}
	}
	var l boxes
	p.MustDo(200, "GET", fmt.Sprintf("%s/users/%d/voicemail/boxes", a, f.memberIDA), f.memberA, nil, &l)
	if len(l.Items) != 1 || l.Items[0].ExtensionID != own.ID || l.Items[0].Number != "1201" || l.Items[0].Summary.Total != 1 || l.Items[0].Summary.Unread != 1 {
		t.Fatalf("member's own boxes: %+v", l.Items)
	}
	if st, _ := p.Do("GET", fmt.Sprintf("%s/users/%d/voicemail/boxes", a, f.userA), f.memberA, nil); st != 403 {
		t.Fatalf("member listing the admin's boxes: %d, want 403", st)
	}
	var adm boxes
	p.MustDo(200, "GET", fmt.Sprintf("%s/users/%d/voicemail/boxes", a, f.memberIDA), f.adminA, nil, &adm)
	if len(adm.Items) != 1 || adm.Items[0].ExtensionID != own.ID {
		t.Fatalf("admin listing the member's boxes: %+v", adm.Items)
	}
	if st, _ := p.Do("GET", fmt.Sprintf("%s/users/%d/voicemail/boxes", a, f.userB), f.adminA, nil); st != 404 {
		t.Fatalf("admin listing another tenant's user's boxes under their own tenant: %d, want 404", st)
	}
}
