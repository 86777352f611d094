package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/privox/privox/internal/privoxtest"
)

// TestAuditFailureFailsRequest: when the audit log refuses entries, a user change recorded in
// its own transaction does not happen, and a request whose entry is appended afterwards no
// longer answers success.
func TestAuditFailureFailsRequest(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	if _, err := p.App.DB.Exec(context.Background(), `CREATE TRIGGER audit_refuse BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit refused'); END`); err != nil {
		t.Fatal(err)
	}
	st, body := p.Do("POST", "/api/v1/tenants/1/users", p.AdminToken, map[string]any{"name": "Unrecorded", "email": "unrecorded@example.com"})
	if st < 500 {
		t.Fatalf("user created without an audit entry: %d %s", st, body)
	}
	var n int
	if err := p.App.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM users WHERE email = 'unrecorded@example.com'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the user was stored: %d %v", n, err)
	}
	st, body = p.Do("POST", "/api/v1/tenants/1/extensions", p.AdminToken, map[string]any{"number": "1005", "sip_password": "secret-1005"})
	if st != 500 || !strings.Contains(string(body), "audit_failed") {
		t.Fatalf("extension created with its audit entry refused: %d %s", st, body)
	}
}
